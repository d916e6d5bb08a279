"""Models: VGGFace on Keras 3 (``vggface``), classification heads and fine-tuning (``heads``,
``finetune``), the compact CPU-track CNN (``compact``), training within a budget (``training``),
input pipelines (``input_pipeline``), batched prediction (``predict``), saving with metadata
(``saving``) and shipped pretrained models (``pretrained``). Import submodules explicitly, e.g.
``from emolib.models import vggface``; TensorFlow loads only then."""
