"""Writing a trained model out: the SavedModel, its prototypes, the TFLite file.

Reads runs through inference.model_loading and writes the model folder that
inference.layout describes. May import inference/ and what it stands on
(models/, training/, evaluation/, pipelines/), never apps/.
"""
