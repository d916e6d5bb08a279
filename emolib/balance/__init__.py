"""Class balancing for face datasets: resampling methods, class weights, and their comparison."""
from .compare import compare_balancing
from .resampling import (
    METHODS,
    AugmentOverSampler,
    adasyn,
    augment_images,
    augment_to_balance,
    class_weights,
    make_sampler,
    random_oversample,
    random_undersample,
    resample,
    smote,
)

__all__ = ["METHODS", "resample", "make_sampler", "random_oversample", "random_undersample", "smote",
           "adasyn", "augment_to_balance", "augment_images", "class_weights", "AugmentOverSampler",
           "compare_balancing"]
