import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import animation  # noqa: E402

from ltdl import plots  # noqa: E402


def test_animation_html_loads_nothing_remote():
    fig, ax = plt.subplots()
    (line,) = ax.plot([0, 1])
    anim = animation.FuncAnimation(fig, lambda j: (line,), frames=3)
    html = plots.animation_html(anim)
    plt.close(fig)
    assert "font-awesome" not in html and "http://" not in html and "https://" not in html
    assert "<i class=" not in html  # every player icon replaced by a plain symbol
    assert "&#9654;" in html
