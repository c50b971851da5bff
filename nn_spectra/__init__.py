"""nn_spectra: deep networks at initialization through free probability.

Forward theory (this layer): activations and their Gaussian integrals, mean-field signal propagation
(:mod:`nn_spectra.mean_field`), a numpy :class:`MLP` for finite-width checks.
"""
from .activations import ACTIVATIONS, Activation, activation
from .gaussian_integrals import (
    activation_kernel,
    activation_moments,
    gauss_hermite,
    gaussian_expectation,
    gaussian_expectation_2d,
    hermite_coefficients,
)
from .mean_field import (
    PhaseDiagram,
    c_map,
    c_star,
    chi1,
    chi_c,
    critical_sigma_w2,
    depth_scales,
    phase_diagram,
    q_map,
    q_star,
    tabulated_mean_field,
    trainability_depth,
)
from .double_descent import min_norm_risk, optimal_ridge_lambda, plot_double_descent, ridge_risk, simulate_risk
from .kernels import nngp_ntk
from .network import Network, as_network
from .mlp import MLP, haar_orthogonal_isometry
from .jacobian import JacobianLaw, d2_law, jacobian_law, jacobian_law_from_d2, jacobian_variance, sample_jacobian_spectrum
from .isometry import IsometryPoint, critical_spread, dynamical_isometry
from .fisher import FIMStatistics, fim_inputs, fim_statistics, measure_fim_statistics, order_parameters
from .fisher import (DataKernels, TopCluster, data_kernels, fim_batchnorm_surrogate, fim_statistics_data,
                     fim_top_cluster)
from .data import Dataset, check_batch_size, check_inputs, load_dataset, load_fashion_mnist, read_idx
from .identity_init import (IdentityJacobianLaw, identity_jacobian_law, identity_vs_orthogonal,
                            sample_identity_jacobian_spectrum)
from .conditional_fim import (ConditionalFIMLaw, compressed_top_edge, compressed_top_mean, conditional_fim_law,
                              sample_conditional_fim_spectrum)
from . import high_precision_laws  # registers the mp systems of the network laws with freeprob.high_precision
from .layerwise_freeness import layerwise_families, layerwise_freeness
from .learning_rate import LearningRateGrid, digits_data, learning_rate_experiment, max_learning_rate, train_gd
from .learning_rate import (BoundaryPrediction, SGDGrid, predict_boundaries, sgd_learning_rate_experiment,
                            train_sgd)
from .learning_rate import (BoundaryStudy, batch_overshoot_threshold, measure_sgd_boundary, sgd_boundary_study,
                            sgd_mean_square_threshold)
from .lanczos import KSComparison, SpectralDensityEstimate, lanczos_memory_bytes, stochastic_lanczos_quadrature
from .matrix_free import (ConditionalFisherDual, JacobianGram, NTKGram, StoredJacobianGram,
                          StreamedGaussianJacobianGram, network_memory_bytes, slq_conditional_fim_spectrum,
                          slq_jacobian_spectrum, stored_layers_memory_bytes, streamed_memory_bytes)
from .finite_width import (LeadingLogNorm, LogNormPrediction, hanin_nica_beta, log_norm_leading_order,
                           log_norm_moments, log_volume_moments, lyapunov_exponents, sample_log_jacobian_norm,
                           sample_log_jacobian_norm_any, sample_log_volume)
from .fisher_finite_width import (NTKDiagonalMoments, NTKFiniteWidth, TopClusterSplit, fim_statistics_finite_width,
                                  fim_statistics_one_input, ntk_diagonal_moments, ntk_finite_width, sample_ntk,
                                  sample_ntk_diagonal, top_cluster_split)
from .sweeps import JacobianLawDistance, fit_rate, plot_distance_vs_width, sweep
from .resnet import (ResNetJacobianLaw, ResNetMeanField, ResNetUniversalLaw, resnet_conditional_fisher_moments,
                     resnet_jacobian_law, resnet_jacobian_moments, resnet_mean_field, resnet_nngp_ntk, resnet_q_map,
                     resnet_universal_law)
from .resnet_network import ResNet
from .resnet_pre import ResNetPreJacobianLaw, resnet_pre_jacobian_law, resnet_pre_jacobian_moments
from .cnn import (CNNModes, check_cnn_geometry, cnn_covariance_map, cnn_jacobian_law, cnn_mean_field_modes,
                  cnn_nngp_ntk, delta_orthogonal_kernel)
from .cnn_network import CNN

# the symbolic twins load SymPy, so they are imported on first use
_SYMBOLIC_LAWS = ("NetworkAlgebraicLaw", "d2_atoms", "hard_tanh_parameters", "symbolic_conditional_fim_law",
                  "symbolic_jacobian_law")


def __getattr__(name: str):
    if name in _SYMBOLIC_LAWS:
        from . import symbolic_laws

        return getattr(symbolic_laws, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
