"""Throwaway experiments with figures and awkward text, reproduced once for the report tests."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pytest


@dataclass(frozen=True)
class FigConfig:
    points: int = 6
    label: str = "paper"


TRICKY = 'Mean of <b>uniform</b> draws is 1/2 & "close" | <script>alert(1)</script>'


def make_experiment(exp_id: str, paper: str, *, fail: bool = False):
    """An experiment of a few seeded points, two claims (one with HTML in it) and one figure."""
    import torch

    from advgeom.plotting import new_figure
    from advgeom.runs.claims import claim
    from advgeom.runs.registry import Experiment
    from advgeom.runs.rules import within

    def run(cfg: FigConfig, ctx) -> dict:
        values = [
            ctx.point(f"p{i}", lambda i=i: float(torch.rand(1, generator=ctx.generator(i))))
            for i in range(cfg.points)
        ]
        if fail:
            raise RuntimeError("broken on purpose")
        mean = sum(values) / len(values)
        claims = [
            claim(
                f"{exp_id}.mean",
                TRICKY,
                paper_value=0.5,
                measured=mean,
                rule=within(abs=0.4),
                note="a <script>x</script> note",
            ),
            claim(
                f"{exp_id}.count",
                f"{exp_id} measures six points.",
                paper_value=6,
                measured=cfg.points,
                rule=within(abs=0),
                measurable=False,
                note="the smoke scale measures fewer",
            ),
        ]
        return {"claims": claims, "metrics": {"values": values}}

    def plot(results: dict) -> dict:
        fig, axes = new_figure(1, width=3, height=2)
        axes[0, 0].plot(results["metrics"]["values"], "o-")
        return {"values": fig}

    return Experiment(
        id=exp_id,
        paper=paper,
        title=f"Throwaway {exp_id} & <friends>",
        config=FigConfig,
        run=run,
        plot=plot,
        scales={"smoke": {"points": 3}, "default": {"points": 4}},
    )


def reproduce_into(root, experiments, *, scale: str = "smoke"):
    """Register ``experiments``, reproduce them into ``root`` and write the report; return
    (outcome dicts, report folder). The caller unregisters them."""
    from advgeom.report import reproduction_report, write_report
    from advgeom.runs import registry, reproduce

    for exp in experiments:
        registry.register(exp)
    plan = reproduce.plan(experiments, root=root, scale=scale, seed=0)
    outcomes = [asdict(o) for o in reproduce.reproduce(plan, root=root)]
    report = reproduction_report(root, outcomes, scale=scale, seed=0)
    write_report(report, root / "report")
    return outcomes, root / "report"


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    """Three throwaway experiments (two papers, one failing), reproduced at smoke scale."""
    from advgeom.runs import registry

    root = tmp_path_factory.mktemp("runs")
    experiments = [
        make_experiment("test.alpha", "gilmer"),
        make_experiment("test.beta", "zou"),
        make_experiment("test.broken", "zou", fail=True),
    ]
    try:
        outcomes, folder = reproduce_into(root, experiments)
        yield root, outcomes, folder
    finally:
        for exp in experiments:
            registry._REGISTRY.pop(exp.id, None)


class Page:
    """An HTML document read with the standard library's parser: text, tags and attributes."""

    def __init__(self, text: str) -> None:
        from html.parser import HTMLParser

        page = self
        self.tags: list[tuple[str, dict]] = []
        self.chunks: list[str] = []

        class Reader(HTMLParser):
            def handle_starttag(self, tag, attrs):
                page.tags.append((tag, dict(attrs)))

            def handle_data(self, data):
                page.chunks.append(data)

        reader = Reader(convert_charrefs=True)
        reader.feed(text)
        reader.close()
        self.text = " ".join(" ".join(self.chunks).split())

    def all(self, tag: str) -> list[dict]:
        return [attrs for t, attrs in self.tags if t == tag]


@pytest.fixture
def read_page():
    """Parse an HTML file into a :class:`Page`."""
    return lambda path: Page(path.read_text(encoding="utf-8"))
