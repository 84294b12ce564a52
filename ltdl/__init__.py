"""ltdl: large-time asymptotics in deep learning, the library behind the book.

Deep supervised learning as optimal control of dx/dt = f(x, u(t)) on [0, T]; a ResNet is the
Euler discretisation with K layers. Public API (everything else is private):
"""
from .activations import ACTIVATIONS
from .controls import detach, init_controls, refine_controls, num_layers, scale_controls, squared_norms
from .costs import Loss, OutputMap, control_penalty, risk, tracking_cost, trapezoid
from .data import Dataset, concentric_spheres, four_point_rotation, rotation, tricolor, xor
from .diagnostics import (Fit, decay_rate, exp_rate, l2_distance, l2_norm_sq, loglog_slope,
                          relative_spread, rescaled_controls, sig, time_to_reach)
from .fields import Bias, Bottleneck, Controls, Field, Inner, Outer, make_field
from .flows import flow, odeint_flow
from .oracles import bias_erm, bias_integral
from .problem import Problem
from .train import Result, train

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "Bias", "Bottleneck", "Controls", "Dataset", "Field", "Fit", "Inner", "Loss", "Outer",
    "OutputMap", "Problem", "Result", "bias_erm", "bias_integral", "concentric_spheres",
    "control_penalty", "decay_rate", "detach", "exp_rate", "flow", "four_point_rotation",
    "init_controls", "l2_distance", "l2_norm_sq", "loglog_slope", "make_field", "num_layers",
    "odeint_flow", "refine_controls", "relative_spread", "rescaled_controls", "risk", "rotation", "scale_controls", "sig", "squared_norms",
    "time_to_reach", "tracking_cost", "train", "trapezoid", "tricolor", "xor",
]

from .provenance import provenance  # noqa: E402
__all__ += ["provenance"]

from .sweeps import Sweep, doubling, newton_polish, sweep, warm_start  # noqa: E402
from .minnorm import MinNorm, min_norm_interpolant  # noqa: E402
__all__ += ["Sweep", "doubling", "newton_polish", "sweep", "warm_start", "MinNorm", "min_norm_interpolant"]

from .examples import EXAMPLES, ExampleSpec, decision_function, get_example, run_example, states_at  # noqa: E402
__all__ += ["EXAMPLES", "ExampleSpec", "decision_function", "get_example", "run_example", "states_at"]

from .spacetime import (MovingGridProblem, SpaceTimeField, cosine_basis, embed_data,  # noqa: E402
                        interpolation_matrix, legendre_basis, midpoint_grid, moving_grid_flow,
                        readout_map, resnet_weights, width_schedule)
__all__ += ["MovingGridProblem", "SpaceTimeField", "cosine_basis", "embed_data", "interpolation_matrix",
            "legendre_basis", "midpoint_grid", "moving_grid_flow", "readout_map", "resnet_weights",
            "width_schedule"]

from .turnpike import Certificate, bias_integral_discrete, first_time_below, linearised_rate, train_newton, turnpike_rate  # noqa: E402
__all__ += ["Certificate", "bias_integral_discrete", "first_time_below", "linearised_rate", "train_newton", "turnpike_rate"]
