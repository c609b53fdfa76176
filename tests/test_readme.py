"""The README's code runs as written.

Every ``python`` block is run on its own, as a script in a fresh interpreter
(so ``if __name__ == "__main__":`` blocks and Dask's worker processes behave
as for a user); a ``text`` block right after one is the output it must
print.  The ``bash`` blocks' install commands name extras and a
distribution that ``pyproject.toml`` defines, and their ``python -m logreg``
commands are ones the command line accepts.
"""
import os
import re
import shlex
import subprocess
import sys
import tomllib

import pytest

import logreg
from logreg import _bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
# modules a block may need beyond the runtime dependencies (all in the test extra)
OPTIONAL = ("statsmodels", "pandas", "dask", "distributed", "sklearn")


def readme_blocks():
    """``(section, language, code, expected output or None)`` for every fenced block."""
    text = open(README, encoding="utf-8").read()
    blocks = []
    for match in FENCE.finditer(text):
        section = re.findall(r"^## (.+)$", text[:match.start()], re.M)
        blocks.append([section[-1] if section else "top", match.group(1), match.group(2),
                       match.start(), match.end()])
    out = []
    for i, (section, lang, code, start, end) in enumerate(blocks):
        expected = None
        if lang == "python" and i + 1 < len(blocks) and blocks[i + 1][1] == "text" \
                and not text[end:blocks[i + 1][3]].strip():
            expected = blocks[i + 1][2]
        out.append((section, lang, code, expected))
    return out


BLOCKS = readme_blocks()
PYTHON = [(s, code, expected) for s, lang, code, expected in BLOCKS if lang == "python"]
BASH = [code for _, lang, code, _ in BLOCKS if lang == "bash"]


def test_the_readme_has_code_to_check():
    assert len(PYTHON) >= 5 and len(BASH) >= 3
    assert any("__main__" in code for _, code, _ in PYTHON)     # the Dask block
    assert any(expected for _, _, expected in PYTHON)           # the summary's printed table


def _env():
    env = dict(os.environ)
    # the logreg this test imports (installed, or the in-place build via PYTHONPATH)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(logreg.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_parent, env.get("PYTHONPATH", "")])
    return env


@pytest.mark.parametrize("section, code, expected", PYTHON,
                         ids=[f"{i}-{s.split(':')[0]}" for i, (s, _, _) in enumerate(PYTHON)])
def test_python_block_runs_as_written(tmp_path, section, code, expected):
    for module in OPTIONAL:
        if re.search(rf"^\s*(import|from) {module}\b", code, re.M):
            pytest.importorskip(module)
    script = tmp_path / "block.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"README block under {section!r} failed:\n{done.stderr}"
    if expected is not None:
        assert done.stdout.rstrip() == expected.rstrip(), done.stdout


def _commands(prefix):
    for code in BASH:
        for line in code.splitlines():
            command = line.split("#", 1)[0].strip()
            for part in command.split("&&"):
                words = shlex.split(part)
                if words[:len(prefix)] == prefix:
                    yield words[len(prefix):]


def test_install_commands_name_the_distribution_and_its_extras():
    project = tomllib.load(open(os.path.join(ROOT, "pyproject.toml"), "rb"))["project"]
    extras = set(project["optional-dependencies"])
    installs = list(_commands(["pip", "install"]))
    assert ["."] in installs and [".[test]"] in installs          # the two set-up commands
    assert f"`{project['name']}`" in open(README).read()          # the distribution's name
    for words in installs:
        for word in words:
            target = re.fullmatch(r"(?P<dist>[\w.-]+)(\[(?P<extras>[\w,]+)\])?", word)
            if target is None or word.startswith("-"):
                continue
            assert target["dist"] in (project["name"], "."), word
            for extra in (target["extras"] or "").split(","):
                assert not extra or extra in extras, word


def test_logreg_commands_are_accepted_by_the_command_line():
    commands = list(_commands(["python", "-m", "logreg"]))
    assert [] in commands and ["bench"] in commands
    for args in commands:
        if args[:1] == ["bench"]:
            if args[1:] != ["--help"]:
                _bench._parser().parse_args(args[1:])
        else:
            assert args in ([], ["demo"]), args
