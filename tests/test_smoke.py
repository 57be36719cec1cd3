from scalargrad import Value


def test_lecture_x_plus_y_times_z():
    x, y, z = Value(-2.0), Value(5.0), Value(-4.0)
    f = (x + y) * z
    f.backward()
    assert (f.data, x.grad, y.grad, z.grad) == (-12.0, -4.0, -4.0, 3.0)


def test_nn_trains_where_numpy_is_missing():
    """The browser course has no numpy: `import nn` and an eager training run (an optimizer over
    more than TOGETHER_FROM parameters, fit) must not need it; nn.TrainingStep says it does."""
    import subprocess
    import sys

    script = """
import sys
class NoNumpy:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy" or name.startswith("numpy."):
            raise ImportError("no numpy in this browser")
sys.meta_path.insert(0, NoNumpy())
import nn
model = nn.MLP(2, [32, 1], seed=0)
history = nn.fit(model, [[0.0, 1.0], [1.0, 0.0]], [1, 0], "mse", nn.SGD(model, lr=0.1), epochs=2, progress=False)
assert len(model.parameters()) >= nn.optim.TOGETHER_FROM and len(history["loss"]) == 2
try:
    nn.TrainingStep
except ImportError as error:
    print("TrainingStep:", error)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "TrainingStep: no numpy in this browser"
