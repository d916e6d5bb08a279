"""Models: VGGFace on Keras 3 (``vggface``), seed heads and fine-tuning, the compact CPU-track CNN
(``compact``) and shipped pretrained models (``pretrained``). Import submodules explicitly, e.g.
``from emolib.models import vggface``; TensorFlow loads only then."""
