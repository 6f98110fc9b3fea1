"""Using a trained model: export, loading, TFLite, prototypes, the REST client."""
