_HEAD = (
    "class Softplus(Layer):\n"
    "    has_params = False\n"
)

MUTANTS = {
    # the document's own code (with `self` added): exp(x) overflows at x = 1000, in forward and in the
    # cached exp that backward_inputs uses (two functions wrong: both lose their points)
    "document_code": {
        "cells": {
            "softplus_solution": _HEAD + (
                "    def forward(self, x):\n"
                "        self.exp_inputs = np.exp(x)\n"
                "        return np.log(self.exp_inputs + 1)\n"
                "    def backward_inputs(self, grad):\n"
                "        return grad * (self.exp_inputs / (self.exp_inputs + 1))\n"
                "    def backward_params(self, grad):\n"
                "        pass\n"
            ),
        },
        "fails": ["test_extreme_inputs", "test_backward"],
    },
    # stable forward, but the derivative taken literally as exp(x) / (1 + exp(x)): nan at 1000
    "unstable_backward": {
        "cells": {
            "softplus_solution": _HEAD + (
                "    def forward(self, inputs):\n"
                "        self.inputs = np.array(inputs, dtype=np.float64)\n"
                "        return np.logaddexp(0.0, self.inputs)\n"
                "    def backward_inputs(self, grads):\n"
                "        e = np.exp(self.inputs)\n"
                "        return grads * e / (1 + e)\n"
                "    def backward_params(self, grads):\n"
                "        return None\n"
            ),
        },
        "fails": ["test_backward"],
    },
    # flattens its input: the output is always 1-D
    "flattening_forward": {
        "cells": {
            "softplus_solution": _HEAD + (
                "    def forward(self, inputs):\n"
                "        self.inputs = np.array(inputs, dtype=np.float64).ravel()\n"
                "        return np.logaddexp(0.0, self.inputs)\n"
                "    def backward_inputs(self, grads):\n"
                "        return grads * 0.5 * (1 + np.tanh(self.inputs / 2))\n"
                "    def backward_params(self, grads):\n"
                "        return None\n"
            ),
        },
        "fails": ["test_extreme_inputs", "test_shapes_and_dtypes", "test_backward"],
    },
    # returns the local derivative and forgets to multiply by the incoming gradient
    "backward_ignores_grads": {
        "cells": {
            "softplus_solution": _HEAD + (
                "    def forward(self, inputs):\n"
                "        self.inputs = np.array(inputs, dtype=np.float64)\n"
                "        return np.logaddexp(0.0, self.inputs)\n"
                "    def backward_inputs(self, grads):\n"
                "        return np.exp(-np.logaddexp(0.0, -self.inputs))\n"
                "    def backward_params(self, grads):\n"
                "        return None\n"
            ),
        },
        "fails": ["test_backward"],
    },
    # remembers only the first forward's inputs
    "stale_cache": {
        "cells": {
            "softplus_solution": _HEAD + (
                "    def forward(self, inputs):\n"
                "        x = np.array(inputs, dtype=np.float64)\n"
                "        if not hasattr(self, 'inputs'):\n"
                "            self.inputs = x\n"
                "        return np.logaddexp(0.0, x)\n"
                "    def backward_inputs(self, grads):\n"
                "        return grads * np.exp(-np.logaddexp(0.0, -self.inputs))\n"
                "    def backward_params(self, grads):\n"
                "        return None\n"
            ),
        },
        "fails": ["test_backward"],
    },
    # the Jacobian's diagonal as a vector instead of the diagonal matrix
    "jacobian_vector": {
        "cells": {
            "softplus_jacobian_solution": (
                "def softplus_jacobian(x):\n"
                "    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=np.float64)))\n"
            ),
        },
        "fails": ["test_jacobian"],
    },
}
