"""``advgeom audit`` on a model defined in a user's file, weights saved with safetensors.

Closed forms first (a linear model on the spheres: gradient-norm ratio and minimal distances are
known exactly), then the command end to end, then every input a user can get wrong.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from advgeom import audit, data
from advgeom.audit.instruments import gradients, robustness

NETS = """
import torch
from torch import nn

VALUE = 3


def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def for_mnist():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def three_classes():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 3))


def images_out():
    return nn.Identity()


def not_a_model():
    return 42


def broken():
    raise RuntimeError("needs a GPU")


class NoGrad(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = build()

    def forward(self, x):
        with torch.no_grad():
            return self.inner(x)


def no_grad():
    return NoGrad()
"""

FAST = (
    "--samples", "40", "--steps", "5", "--eps", "0,0.05", "--eps", "0.1", "--protocol", "fast"
)


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    """A user's folder: nets.py and trained weights of nets.build in net.safetensors."""
    folder = tmp_path_factory.mktemp("user")
    (folder / "nets.py").write_text(NETS, encoding="utf-8")
    model = audit.load_model(f"{folder / 'nets.py'}:build")
    x, y = data.load("digits", split="train")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(150):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    save_file(model.state_dict(), str(folder / "net.safetensors"))
    return folder


# -- closed forms ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def linear_on_spheres():
    """Two-logit linear model on the spheres (no box): every quantity has a closed form."""
    torch.manual_seed(1)
    model = nn.Linear(500, 2)
    with torch.no_grad():
        model.bias.zero_()
    ctx = audit.prepare(
        model.eval(),
        audit.Settings(data="spheres", samples=24, steps=20, protocol="fast"),
        device=torch.device("cpu"),
    )
    w = (model.weight[1] - model.weight[0]).detach().double()
    margin = (ctx.x.double() @ w).abs()
    return ctx, w, margin


def test_gradient_ratio_is_that_of_the_weight_difference(linear_on_spheres):
    ctx, w, _ = linear_on_spheres
    # Cross-entropy on two logits: grad_x L = (p_1 - y_1) (w_1 - w_0), one direction for all.
    result = gradients.measure(ctx)
    ratio = next(c for c in result["findings"] if c["id"] == "l1_over_l2")
    assert ratio["measured"] == pytest.approx(float(w.abs().sum() / w.norm()), rel=1e-5)
    assert ratio["paper_value"] == pytest.approx(math.sqrt(2 * 500 / math.pi))


def test_minimal_distances_are_margin_over_dual_norm(linear_on_spheres):
    ctx, w, margin = linear_on_spheres
    result = robustness.measure(ctx)
    correct = torch.tensor(result["metrics"]["correct"])
    for norm, dual in (("linf", w.abs().sum()), ("l2", w.norm())):
        found = torch.tensor(result["metrics"]["norms"][norm]["distance"], dtype=torch.float64)
        exact = margin / dual
        assert torch.allclose(found[correct], exact[correct], rtol=1e-4)
        assert (found[~correct] == 0).all()  # clean errors: distance 0
        # Robust exactly when correct and the margin is beyond eps (the ensemble is complete).
        r = result["metrics"]["norms"][norm]
        expected = [float((correct & (exact > e)).double().mean()) for e in r["eps"]]
        assert r["robust_accuracy"] == pytest.approx(expected, abs=1.5 / len(correct))
    ratio = next(c for c in result["findings"] if c["id"] == "l2_over_linf_distance")
    assert ratio["measured"] == pytest.approx(float(w.abs().sum() / w.norm()), rel=1e-3)


def test_radii_follow_eq_3():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    ctx = audit.prepare(
        model, audit.Settings(data="digits", samples=5, eps=(0.0, 0.1)), device=torch.device("cpu")
    )
    assert ctx.eps_linf == (0.0, 0.1) and ctx.eps_l2 == pytest.approx((0.0, 0.8))  # sqrt(64)
    assert ctx.bounds == (0.0, 1.0) and ctx.max_eps("l2") == pytest.approx(8.0)
    default = audit.prepare(model, audit.Settings(data="digits", samples=5), device=ctx.device)
    assert default.eps_linf == audit.DEFAULT_EPS


# -- end to end -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def audited(user, tmp_path_factory):
    """``advgeom audit`` of the trained nets.build on digits."""
    from advgeom.cli.main import main

    out = tmp_path_factory.mktemp("audits") / "net"
    code = main(
        [
            "--quiet",
            "audit",
            "--model",
            f"{user / 'nets.py'}:build",
            "--weights",
            str(user / "net.safetensors"),
            "--data",
            "digits",
            "--out",
            str(out),
            *FAST,
        ]
    )
    return out, code


def test_audit_writes_results_figures_and_report(audited, user):
    out, code = audited
    assert code == 0
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["kind"] == "advgeom-audit" and results["data"] == "digits"
    assert results["samples"] == 40 and results["d"] == 64 and results["classes"] == 10
    digest = hashlib.sha256((user / "net.safetensors").read_bytes()).hexdigest()
    assert results["weights"] == {"file": "net.safetensors", "sha256": digest}
    assert results["eps_linf"] == [0, 0.05, 0.1] and results["eps_l2"] == [0, 0.4, 0.8]
    ids = [r["id"] for r in results["instruments"]]
    assert ids == [i.id for i in audit.INSTRUMENTS]
    by_id = {r["id"]: r for r in results["instruments"]}
    accuracy = by_id["accuracy"]["metrics"]["accuracy"]
    assert accuracy > 0.8  # the weights were loaded: the factory's own init scores ~0.1
    curve = by_id["robustness"]["metrics"]["norms"]["linf"]["robust_accuracy"]
    assert curve[0] == pytest.approx(accuracy) and curve == sorted(curve, reverse=True)
    for r in results["instruments"]:
        assert r["figures"] and all((out / f).stat().st_size > 0 for f in r["figures"])
    assert json.loads((out / "environment.json").read_text())["packages"]["torch"]


def test_audit_report_shows_every_finding(audited, page_text):
    out, _ = audited
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    text = page_text(out / "report" / "index.html")
    html = (out / "report" / "index.html").read_text(encoding="utf-8")
    assert "advgeom audit of" in text and "net.safetensors" in text
    for r in results["instruments"]:
        assert r["title"] in text
        for c in r["findings"]:
            assert c["id"] in text and " ".join(c["statement"].split()) in text
    figures = sum(len(r["figures"]) for r in results["instruments"]) // 2  # .png and .svg
    assert html.count('<img src="data:image/') == figures
    assert "http" not in html.replace('xmlns="http://www.w3.org', "")
    md = (out / "report" / "report.md").read_text(encoding="utf-8")
    assert "](../figures/accuracy-per-class.png)" in md


def test_dotted_module_from_the_current_folder(user, tmp_path, monkeypatch, cli):
    package = tmp_path / "auditpkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "nets.py").write_text(NETS, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    try:
        result = cli(
            "-q",
            "audit",
            "--model",
            "auditpkg.nets:build",
            "--data",
            "digits",
            "--out",
            "audit",
            *FAST,
        )
    finally:
        for name in ("auditpkg", "auditpkg.nets"):
            sys.modules.pop(name, None)
    assert result.code == 0, result.err
    assert (tmp_path / "audit" / "report" / "index.html").is_file()
    assert "clean_accuracy" in result.out and "report:" in result.out


def test_an_earlier_audit_is_replaced(audited, user, cli):
    out, _ = audited
    before = json.loads((out / "results.json").read_text())["written"]
    result = cli(
        "-q",
        "audit",
        "--model",
        f"{user / 'nets.py'}:build",
        "--data",
        "digits",
        "--out",
        out,
        *FAST,
        "--seed",
        "1",
    )
    assert result.code == 0, result.err
    after = json.loads((out / "results.json").read_text())
    assert after["seed"] == 1 and after["weights"] is None and after["written"] >= before
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


def test_interrupted_audit_writes_nothing(user, tmp_path, cli, monkeypatch):
    from advgeom.audit import run as audit_run

    def interrupt(ctx):
        raise KeyboardInterrupt

    stop = audit.Instrument("stop", "stops", "test", measure=interrupt, plot=lambda r: {})
    monkeypatch.setattr(audit_run, "INSTRUMENTS", (audit.INSTRUMENTS[0], stop))
    result = cli(
        "audit",
        "--model",
        f"{user / 'nets.py'}:build",
        "--data",
        "digits",
        "--out",
        tmp_path / "out",
        *FAST,
    )
    assert result.code == 130 and "nothing was written" in result.err
    assert list(tmp_path.iterdir()) == []


def test_a_model_autograd_cannot_differentiate(user, tmp_path, cli):
    result = cli(
        "-q",
        "audit",
        "--model",
        f"{user / 'nets.py'}:no_grad",
        "--data",
        "digits",
        "--out",
        tmp_path / "out",
        *FAST,
    )
    line = result.one_line_error(code=1)
    assert "instrument 'robustness' failed on this model" in line
    assert "nothing was written" in line and list(tmp_path.iterdir()) == []


# -- bad input: one line, exit 2, nothing written -------------------------------------------


def write_weights(folder: Path, name: str, change) -> Path:
    """The trained weights with ``change(state)`` applied, saved as ``name``."""
    from safetensors.torch import load_file

    state = load_file(str(folder / "net.safetensors"))
    change(state)
    save_file(state, str(folder / name))
    return folder / name


BAD = {
    "no colon": (["--model", "{u}/nets.py"], ["MODULE:FACTORY"]),
    "missing file": (["--model", "{u}/none.py:build"], ["no such file", "none.py"]),
    "syntax error": (["--model", "{u}/syntax.py:build"], ["cannot import", "SyntaxError"]),
    "failing import": (
        ["--model", "{u}/imports.py:build"],
        ["ModuleNotFoundError", "no_such_package_xyz"],
    ),
    "unknown module": (
        ["--model", "no_such_module_xyz:build"],
        ["cannot import 'no_such_module_xyz'"],
    ),
    "missing factory": (["--model", "{u}/nets.py:bild"], ["'bild' is not defined", "build"]),
    "not callable": (["--model", "{u}/nets.py:VALUE"], ["'VALUE' is not callable"]),
    "factory raises": (
        ["--model", "{u}/nets.py:broken"],
        ["broken() failed", "RuntimeError: needs a GPU"],
    ),
    "not a module": (["--model", "{u}/nets.py:not_a_model"], ["returned int", "nn.Module"]),
    "no weights file": (["--weights", "{u}/none.safetensors"], ["--weights", "no such file"]),
    "pickle weights": (["--weights", "{u}/net.pt"], ["not a readable safetensors file"]),
    "missing tensors": (["--weights", "{u}/missing.safetensors"], ["missing: 3.weight, 3.bias"]),
    "unexpected tensor": (["--weights", "{u}/extra.safetensors"], ["unexpected: extra.weight"]),
    "shape mismatch": (
        ["--weights", "{u}/shape.safetensors"],
        ["shape mismatch: 1.weight (16, 64) in the file vs (32, 64) in the model"],
    ),
    "wrong input shape": (
        ["--model", "{u}/nets.py:for_mnist"],
        ["--data digits", "(1, 8, 8)", "cannot take"],
    ),
    "labels beyond outputs": (
        ["--model", "{u}/nets.py:three_classes"],
        ["labels 0..9", "3 outputs"],
    ),
    "not logits": (["--model", "{u}/nets.py:images_out"], ["class logits"]),
    "unknown data": (["--data", "mnst"], ["--data", "unknown data set", "mnist"]),
    "eps not a number": (["--eps", "abc"], ["--eps", "abc"]),
    "negative eps": (["--eps", "0.1,-1"], ["--eps", ">= 0"]),
    "no samples": (["--samples", "0"], ["--samples", ">= 1"]),
    "out holds other files": (["--out", "{u}"], ["--out", "other files"]),
    "missing data dir": (["--data-dir", "{u}/nowhere"], ["--data-dir"]),
}


@pytest.fixture(scope="module")
def bad_files(user):
    (user / "syntax.py").write_text("def build(:\n", encoding="utf-8")
    (user / "imports.py").write_text("import no_such_package_xyz\n", encoding="utf-8")
    torch.save({"1.weight": torch.zeros(2)}, user / "net.pt")  # a pickle: must not be loaded
    write_weights(user, "missing.safetensors", lambda s: [s.pop("3.weight"), s.pop("3.bias")])
    write_weights(user, "extra.safetensors", lambda s: s.update({"extra.weight": torch.ones(2)}))
    write_weights(user, "shape.safetensors", lambda s: s.update({"1.weight": torch.ones(16, 64)}))
    return user


@pytest.mark.parametrize(("argv", "words"), BAD.values(), ids=BAD)
def test_bad_input(bad_files, tmp_path, cli, argv, words):
    options = {
        "--model": f"{bad_files / 'nets.py'}:build",
        "--data": "digits",
        "--out": str(tmp_path / "out"),
    }
    extra = []
    for key, value in zip(argv[::2], argv[1::2], strict=True):
        value = value.format(u=bad_files)
        if key in options:
            options[key] = value
        else:
            extra += [key, value]
    before = sorted(p.name for p in bad_files.iterdir())
    flat = [x for kv in options.items() for x in kv]
    line = cli("audit", *flat, *FAST[:4], *extra).one_line_error()
    for word in words:
        assert word in line, line
    assert list(tmp_path.iterdir()) == []
    assert sorted(p.name for p in bad_files.iterdir()) == before


def test_missing_required_options(cli):
    line = cli("audit", "--data", "digits").one_line_error()
    assert "--model" in line


def test_weights_with_tied_tensors_load(tmp_path):
    """safetensors.torch.save_model stores a tied tensor once; load_weights accepts that."""
    from safetensors.torch import save_model

    def tied():
        a = nn.Linear(4, 4)
        model = nn.Sequential(a, nn.ReLU(), nn.Linear(4, 4))
        model[2].weight = a.weight
        return model

    source = tied()
    save_model(source, str(tmp_path / "tied.safetensors"))
    target = tied()
    audit.load_weights(target, tmp_path / "tied.safetensors")
    for a, b in zip(source.state_dict().values(), target.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_spec_parsing():
    assert audit.parse_spec("pkg.mod:make") == ("pkg.mod", "make")
    assert audit.parse_spec("C:/models/net.py:make") == ("C:/models/net.py", "make")
    for bad in ("make", ":make", "mod:", "mod:not-a-name"):
        with pytest.raises(ValueError, match="MODULE:FACTORY"):
            audit.parse_spec(bad)


def test_model_file_can_import_its_neighbours(tmp_path):
    (tmp_path / "layers_for_audit_test.py").write_text(
        "from torch import nn\n\ndef head():\n    return nn.Linear(64, 10)\n", encoding="utf-8"
    )
    (tmp_path / "main.py").write_text(
        textwrap.dedent("""
        from torch import nn
        from layers_for_audit_test import head

        def build():
            return nn.Sequential(nn.Flatten(), head())
    """),
        encoding="utf-8",
    )
    try:
        model = audit.load_model(f"{tmp_path / 'main.py'}:build")
    finally:
        sys.modules.pop("layers_for_audit_test", None)
    assert isinstance(model, nn.Sequential) and not model.training
