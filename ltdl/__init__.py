"""ltdl: large-time asymptotics in deep learning, the library behind the book.

Deep supervised learning as optimal control of dx/dt = f(x, u(t)) on [0, T]; a ResNet is the
Euler discretisation with K layers. The public API is the flat list ``__all__`` below, re-exported
from the modules:

* data and model: :mod:`~ltdl.data`, :mod:`~ltdl.fields` (vector fields, frozen controls),
  :mod:`~ltdl.controls`, :mod:`~ltdl.flows` (Runge–Kutta integrators as Butcher tableaux),
  :mod:`~ltdl.costs`, :mod:`~ltdl.problem`;
* solving: :mod:`~ltdl.optim` (every minimiser: ``train``, ``train_newton``, ``fista``, with
  their :class:`Certificate`), :mod:`~ltdl.sweeps`, :mod:`~ltdl.minnorm`;
* measuring: :mod:`~ltdl.diagnostics`, :mod:`~ltdl.oracles`, :mod:`~ltdl.turnpike`,
  :mod:`~ltdl.turnpike_runs` (the solve → measure → depth protocol of the turnpike chapters);
* the book's examples and extensions: :mod:`~ltdl.examples` (with :mod:`~ltdl.example_runs` and
  :mod:`~ltdl.example_plots`), :mod:`~ltdl.spacetime`,
  :mod:`~ltdl.provenance`, :mod:`~ltdl.notebook` (``setup_chapter``, the one-line chapter setup);
* after the paper: :mod:`~ltdl.attention` and :mod:`~ltdl.metastability` (self-attention dynamics
  on the sphere: tokens as particles, their clusters, exact two-cluster oracles).
"""

from .activations import ACTIVATIONS
from .attention import (
    KINDS,
    METHODS,
    attention_energy,
    attention_field,
    attention_flow,
    cluster_labels,
    count_clusters,
    random_tokens,
    to_sphere,
    token_diameter,
)
from .controls import detach, init_controls, num_layers, refine_controls, scale_controls, squared_norms
from .costs import Loss, OutputMap, control_penalty, l1_penalty, risk, tracking_cost, trapezoid
from .data import Dataset, concentric_spheres, four_point_rotation, rotation, tricolor, xor
from .diagnostics import (
    Fit,
    decay_rate,
    exp_rate,
    l2_distance,
    l2_norm_sq,
    loglog_slope,
    relative_spread,
    rescaled_controls,
    sig,
    time_to_reach,
)
from .example_runs import ExampleRun, decision_function, run_example, states_at
from .examples import EXAMPLES, ExampleSpec, get_example
from .fields import Bias, Bottleneck, Controls, Field, FrozenField, Inner, Outer, make_field
from .flows import flow, fused_gradients, odeint_flow
from .metastability import ClusterHistory, cluster_history, two_cluster_angle, two_cluster_merge_time, two_token_angle
from .minnorm import MinNorm, SecondOrder, min_norm_interpolant, minnorm_second_order
from .notebook import setup_chapter
from .optim import Certificate, Result, fista, train, train_newton
from .oracles import bias_erm, bias_integral
from .problem import Problem
from .provenance import provenance
from .spacetime import (
    MovingGridProblem,
    SpaceTimeField,
    cosine_basis,
    embed_data,
    interpolation_matrix,
    legendre_basis,
    midpoint_grid,
    moving_grid_flow,
    readout_map,
    resnet_weights,
    width_schedule,
)
from .sweeps import Sweep, certified_distance, doubling, reference_sweep, sweep, warm_start
from .turnpike import bias_integral_discrete, first_time_below, linearised_rate, turnpike_rate
from .turnpike_runs import DepthStats, TurnpikeRun, TurnpikeTable, turnpike_run, turnpike_table

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "EXAMPLES",
    "KINDS",
    "METHODS",
    "Bias",
    "Bottleneck",
    "Certificate",
    "ClusterHistory",
    "Controls",
    "Dataset",
    "DepthStats",
    "ExampleRun",
    "ExampleSpec",
    "Field",
    "Fit",
    "FrozenField",
    "Inner",
    "Loss",
    "MinNorm",
    "MovingGridProblem",
    "Outer",
    "OutputMap",
    "Problem",
    "Result",
    "SecondOrder",
    "SpaceTimeField",
    "Sweep",
    "TurnpikeRun",
    "TurnpikeTable",
    "attention_energy",
    "attention_field",
    "attention_flow",
    "bias_erm",
    "bias_integral",
    "bias_integral_discrete",
    "certified_distance",
    "cluster_history",
    "cluster_labels",
    "concentric_spheres",
    "control_penalty",
    "cosine_basis",
    "count_clusters",
    "decay_rate",
    "decision_function",
    "detach",
    "doubling",
    "embed_data",
    "exp_rate",
    "first_time_below",
    "fista",
    "flow",
    "four_point_rotation",
    "fused_gradients",
    "get_example",
    "init_controls",
    "interpolation_matrix",
    "l1_penalty",
    "l2_distance",
    "l2_norm_sq",
    "legendre_basis",
    "linearised_rate",
    "loglog_slope",
    "make_field",
    "midpoint_grid",
    "min_norm_interpolant",
    "minnorm_second_order",
    "moving_grid_flow",
    "num_layers",
    "odeint_flow",
    "provenance",
    "random_tokens",
    "readout_map",
    "reference_sweep",
    "refine_controls",
    "relative_spread",
    "rescaled_controls",
    "resnet_weights",
    "risk",
    "rotation",
    "run_example",
    "scale_controls",
    "setup_chapter",
    "sig",
    "squared_norms",
    "states_at",
    "sweep",
    "time_to_reach",
    "to_sphere",
    "token_diameter",
    "tracking_cost",
    "train",
    "train_newton",
    "trapezoid",
    "tricolor",
    "turnpike_rate",
    "turnpike_run",
    "turnpike_table",
    "two_cluster_angle",
    "two_cluster_merge_time",
    "two_token_angle",
    "warm_start",
    "width_schedule",
    "xor",
]
