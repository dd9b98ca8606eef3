"""Disentanglement, model and fidelity metrics for oogan_tf (numpy + scikit-learn + scipy; VGG
and InceptionV3 via Keras).

Ground-truth metrics follow disentanglement_lib's protocols (re-implemented from the
formulas): FactorVAE score, BetaVAE score, MIG, DCI, SAP, modularity / explicitness.  Model
metrics: total correlation of Q's Gaussian codes, orthogonality of Q's kernels, and the
paper's perceptual diversity.  Fidelity metrics for any dataset: FID and KID on InceptionV3
features (`compute_fidelity`, with an injectable feature network).  `evaluate_representation`
runs the representation metrics with default sizes and per-metric seeds and returns a
JSON-serialisable dict.
"""

from oogan_tf.metrics._utils import (discrete_entropy, discrete_mutual_info,
                                     generate_batch_factor_code, histogram_discretize,
                                     obtain_representation, print_progress)
from oogan_tf.metrics.beta_vae import compute_beta_vae
from oogan_tf.metrics.categorical_accuracy import (compute_categorical_accuracy,
                                                   unsupervised_accuracy)
from oogan_tf.metrics.dci import compute_dci
from oogan_tf.metrics.evaluation import (FIDELITY_METRICS, GENERATOR_METRICS, LABEL_METRICS,
                                         METRIC_NAMES, MODEL_METRICS, PROTOCOLS,
                                         REPRESENTATION_METRICS, default_params,
                                         evaluate_generator, evaluate_representation)
from oogan_tf.metrics.factor_vae import compute_factor_vae
from oogan_tf.metrics.fidelity import (InceptionWeightsError, compute_fidelity,
                                       inception_feature_fn, resolve_inception_weights)
from oogan_tf.metrics.mig import compute_mig
from oogan_tf.metrics.modularity_explicitness import compute_modularity_explicitness
from oogan_tf.metrics.orthogonality import compute_orthogonality, kernel_rows
from oogan_tf.metrics.perceptual_diversity import (build_vgg16_features,
                                                   compute_perceptual_diversity)
from oogan_tf.metrics.sap import compute_sap
from oogan_tf.metrics.total_correlation import compute_total_correlation

__all__ = [
    "FIDELITY_METRICS", "GENERATOR_METRICS", "InceptionWeightsError", "LABEL_METRICS",
    "METRIC_NAMES", "MODEL_METRICS", "PROTOCOLS", "REPRESENTATION_METRICS",
    "build_vgg16_features", "compute_beta_vae", "compute_categorical_accuracy", "compute_dci",
    "compute_factor_vae", "compute_fidelity", "compute_mig",
    "compute_modularity_explicitness", "compute_orthogonality", "compute_perceptual_diversity",
    "compute_sap", "compute_total_correlation", "default_params", "discrete_entropy",
    "discrete_mutual_info", "evaluate_generator", "evaluate_representation",
    "generate_batch_factor_code", "histogram_discretize", "inception_feature_fn", "kernel_rows",
    "obtain_representation", "print_progress", "resolve_inception_weights", "unsupervised_accuracy",
]
