"""Running a trained model: the folder layout, loading, and the TransferModel interface.

One TransferModel over every form a model comes in: a SavedModel or model
folder, a run directory, a .tflite file (LiteRT), or TF Serving over REST
(serving_client). Loading a run directory rebuilds the generator from its
checkpoint, so model_loading imports training/. Nothing here imports
exporting/ or apps/: they build on it.
"""
