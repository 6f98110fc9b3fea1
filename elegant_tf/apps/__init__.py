"""What a trained model is used for: the transfer modes, editing faces in photos, the web page.

These take a loaded TransferModel as an argument (inference/ defines and loads
it); they may import inference/, models/, pipelines/ and usage, never
exporting/ or training/.
"""
