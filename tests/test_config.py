"""Configuration: `[tool.mlfix]` or `mlfix.toml`; the nearest wins; the command line wins."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixture_cases import FIXTURES
from mlfix.cli import app
from mlfix.config import Config, Overrides, Resolver, Settings, load
from mlfix.errors import MlfixError

FIRES = FIXTURES / "MLF201" / "fires-copy-dot-requirements" / "input"
UNSAFE = FIXTURES / "MLF201" / "unsafe-run-between" / "input"


def run(cwd: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str, str]:
    """`mlfix` in `cwd`; tests that count findings select MLF201 so new rules do not interfere."""
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def tree(tmp_path: Path, layout: dict[str, Path]) -> Path:
    for name, source in layout.items():
        shutil.copytree(source, tmp_path / name)
    return tmp_path


def test_pyproject_table_and_kebab_keys(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.mlfix]\nselect = ["MLF2"]\nignore = "mlf203"\n'
        'unsafe-fixes = true\nexclude = ["legacy/"]\nweights = "volume"\nhf-home = "/opt/hf"\n'
    )
    config = Resolver().nearest(tmp_path)
    assert config == Config(
        path=tmp_path / "pyproject.toml",
        select=("MLF2",),
        ignore=("MLF203",),
        unsafe_fixes=True,
        exclude=("legacy/",),
        weights="volume",
        hf_home="/opt/hf",
    )
    settings = Overrides().settings(config)
    assert settings == Settings(
        select=("MLF2",), ignore=("MLF203",), unsafe_fixes=True, weights="volume", hf_home="/opt/hf"
    )


def test_nearest_wins_and_pyproject_without_table_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "mlfix.toml").write_text('weights = "volume"\n')
    sub = tmp_path / "svc" / "api"
    sub.mkdir(parents=True)
    (tmp_path / "svc" / "pyproject.toml").write_text('[project]\nname = "no-mlfix-table"\n')
    resolver = Resolver()
    assert resolver.nearest(sub) == load(tmp_path / "mlfix.toml")  # skips svc/pyproject.toml
    (sub / "pyproject.toml").write_text('[tool.mlfix]\nhf-home = "/models"\n')
    nearest = Resolver().nearest(sub)
    assert nearest is not None and nearest.hf_home == "/models"
    assert nearest.weights is None  # files do not merge: the nearest one is the config
    assert Overrides().settings(nearest).weights == "bake"


def test_mlfix_toml_beats_pyproject_in_the_same_directory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.mlfix]\nweights = "bake"\n')
    (tmp_path / "mlfix.toml").write_text('weights = "volume"\n')
    nearest = Resolver().nearest(tmp_path)
    assert nearest is not None and nearest.weights == "volume"


def test_command_line_overrides() -> None:
    config = Config(select=("MLF2",), ignore=("MLF203",), unsafe_fixes=True)
    settings = Overrides(select=("MLF1",), ignore=("MLF102",), unsafe_fixes=False).settings(config)
    assert settings.select == ("MLF1",)  # --select replaces the file's select
    assert settings.ignore == ("MLF203", "MLF102")  # --ignore adds to it
    assert settings.unsafe_fixes is False  # --no-unsafe-fixes beats unsafe-fixes = true
    assert Overrides().settings(config).unsafe_fixes is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[tool.mlfix]\nselec = []\n", "unknown mlfix setting `selec`"),
        ('[tool.mlfix]\nweights = "download"\n', "`weights` must be one of"),
        ('[tool.mlfix]\nhf-home = "relative/path"\n', "`hf-home` must be an absolute path"),
        ('[tool.mlfix]\nhf-home = "/opt/$(id)"\n', "`hf-home` must be an absolute path"),
        ("[tool.mlfix]\nunsafe-fixes = 1\n", "`unsafe-fixes` must be true or false"),
        ("[tool.mlfix]\nselect = [1]\n", "`select` must be a list of strings"),
        ("[tool.mlfix\n", "invalid TOML"),
    ],
)
def test_bad_config_is_a_one_line_error(
    body: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tree(tmp_path, {"p": FIRES}) / "p"
    (root / "pyproject.toml").write_text(body)
    before = (root / "Dockerfile").read_text()
    code, out, err = run(root, monkeypatch, "--write", ".")
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "pyproject.toml" in errors[0] and message in errors[0], err
    assert out == ""
    assert (root / "Dockerfile").read_text() == before


def test_unknown_selector_in_config_or_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tree(tmp_path, {"p": FIRES}) / "p"
    code, _out, err = run(root, monkeypatch, "--select", "MLF9")
    assert code == 2 and "unknown rule selector `MLF9`" in err
    (root / "mlfix.toml").write_text('ignore = ["XYZ1"]\n')
    code, _out, err = run(root, monkeypatch)
    assert code == 2 and "mlfix.toml: unknown rule selector `XYZ1`" in err


def test_config_select_and_ignore_drive_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tree(tmp_path, {"p": FIRES}) / "p"
    (root / "pyproject.toml").write_text(
        '[tool.mlfix]\nselect = ["MLF0", "MLF201"]\nignore = ["MLF201"]\n'
    )
    assert run(root, monkeypatch)[0] == 0
    assert run(root, monkeypatch, "--select", "MLF201")[0] == 0  # config ignore still applies
    (root / "pyproject.toml").write_text('[tool.mlfix]\nselect = ["MLF001"]\n')
    assert run(root, monkeypatch)[0] == 0
    assert run(root, monkeypatch, "--select", "MLF201")[0] == 1  # the CLI's select wins


def test_unsafe_fixes_from_config_and_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tree(tmp_path, {"p": UNSAFE}) / "p"
    code, out, err = run(root, monkeypatch, "--diff", "--select", "MLF201")
    assert out == "" and "1 hidden fix can be enabled with --unsafe-fixes" in err
    (root / "mlfix.toml").write_text("unsafe-fixes = true\n")
    code, out, err = run(root, monkeypatch, "--diff", "--select", "MLF201")
    assert code == 1 and "+RUN pip install" in out and "hidden" not in err
    code, out, _err = run(root, monkeypatch, "--diff", "--no-unsafe-fixes", "--select", "MLF201")
    assert out == ""


def test_each_target_uses_its_nearest_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tree(tmp_path, {"a": FIRES, "b": FIRES})
    (root / "b" / "mlfix.toml").write_text('ignore = ["MLF201"]\n')
    code, out, _err = run(root, monkeypatch, "--select", "MLF201")
    assert code == 1
    assert "a/Dockerfile:4:1: MLF201" in out
    assert "b/Dockerfile" not in out


def test_exclude_in_config_is_relative_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tree(tmp_path, {"svc/a": FIRES, "svc/legacy": FIRES})
    (root / "svc" / "pyproject.toml").write_text('[tool.mlfix]\nexclude = ["/legacy/"]\n')
    _code, out, err = run(root, monkeypatch)
    assert "svc/a/Dockerfile" in out and "legacy" not in out
    assert "1 skipped" in err
    # A pattern anchored at svc/ does not match a `legacy` elsewhere.
    shutil.copytree(FIRES, root / "legacy")
    assert "legacy/Dockerfile" in run(root, monkeypatch)[1]


def test_explicit_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tree(tmp_path, {"p": FIRES}) / "p"
    (root / "pyproject.toml").write_text('[tool.mlfix]\nignore = ["MLF201"]\n')
    elsewhere = tmp_path / "ci.toml"
    elsewhere.write_text('select = ["MLF201"]\n')
    assert run(root, monkeypatch, "--select", "MLF201")[0] == 0
    assert run(root, monkeypatch, "--config", str(elsewhere))[0] == 1
    with pytest.raises(MlfixError):
        load(tmp_path / "missing.toml")


def test_weights_base_setting_names_the_weights_stage_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tree(tmp_path, {"p": FIXTURES / "MLF301" / "fires-base-without-pip" / "input"}) / "p"
    (root / "mlfix.toml").write_text('weights-base = "python:3.12-slim"\n')
    code, out, err = run(root, monkeypatch, "--diff", "--unsafe-fixes", "--select", "MLF301", ".")
    assert code == 1, err
    assert "+FROM python:3.12-slim AS weights" in out
    assert "FROM nvidia/cuda" not in out.split("AS weights")[0]
    assert Settings().weights_base == "python:3.11-slim"


def test_weights_base_must_be_an_image_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tree(tmp_path, {"p": FIRES}) / "p"
    (root / "mlfix.toml").write_text('weights-base = "python:3.12-slim\\nRUN id"\n')
    code, _out, err = run(root, monkeypatch, "--write", ".")
    assert code == 2 and "`weights-base` must be an image reference" in err, err
