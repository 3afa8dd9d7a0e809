"""The documentation stays true to the code: docs/cli.md is what scripts/cli-reference renders
from the typer app now (a help text changed without regenerating the page fails here), and
every relative link in README.md and docs/*.md reaches a file, and a heading when it names one."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "cli-reference"
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`+[^`]*`+")
# [text](target) and ![alt](target); the target ends at the first space (a title may follow).
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def load_script() -> ModuleType:
    """scripts/cli-reference as a module (it has no .py name, so it is loaded by path)."""
    loader = importlib.machinery.SourceFileLoader("cli_reference", str(SCRIPT))
    spec = importlib.util.spec_from_loader("cli_reference", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, markup and punctuation dropped (letters,
    digits, spaces, '-' and '_' stay), spaces turned into '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").replace("*", "").lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading id of a Markdown file, repeated headings numbered as GitHub numbers them."""
    seen: dict[str, int] = {}
    found = set()
    for _number, line in prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        anchor = github_anchor(match.group(2))
        count = seen.get(anchor, 0)
        seen[anchor] = count + 1
        found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def broken_links(page: Path, root: Path = REPO) -> list[str]:
    """Relative links of one page whose file or heading does not exist, as 'page:line: target'
    (the page named relative to root)."""
    problems = []
    for number, line in prose_lines(page.read_text(encoding="utf-8")):
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # https:, mailto: ... : not a file of this repository
            file_part, _, anchor = target.partition("#")
            linked = (page.parent / file_part).resolve() if file_part else page
            where = f"{page.relative_to(root)}:{number}: {target}"
            if not linked.exists():
                problems.append(f"{where} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{where} (no heading #{anchor} in {linked.name})")
    return problems


def test_the_cli_reference_page_is_what_the_code_renders_now():
    script = load_script()
    rendered = script.render_page()
    committed = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    if committed != rendered:
        import difflib

        diff = "".join(difflib.unified_diff(committed.splitlines(True), rendered.splitlines(True),
                                            "docs/cli.md", "rendered", n=1))
        raise AssertionError("docs/cli.md is stale: run scripts/cli-reference and commit it.\n" + diff[:4000])


def test_the_cli_reference_shows_every_visible_command_and_its_options():
    page = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    for command in ("import", "up", "down", "status", "logs", "provision", "demo", "hints", "report", "reflag"):
        assert f"\n## ctstack {command}\n" in page
        assert f" Usage: ctstack {command} [OPTIONS]" in page
    assert "--sqs-queue" in page and "--es-api-key" in page and "--max-file-bytes" in page
    assert "\x1b" not in page  # no terminal codes, whatever the terminal that rendered it


@pytest.mark.slow  # the script in a subprocess per case
def test_check_exits_1_with_a_diff_when_the_page_is_stale_and_0_when_current(tmp_path):
    current = tmp_path / "cli.md"
    current.write_text(load_script().render_page(), encoding="utf-8")  # current whatever docs/cli.md holds
    ok = subprocess.run([sys.executable, str(SCRIPT), "--check", "--output", str(current)],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    stale = tmp_path / "stale.md"
    stale.write_text(current.read_text(encoding="utf-8").replace("Show the version and exit.", "Show the version."),
                     encoding="utf-8")
    before = stale.read_bytes()
    checked = subprocess.run([sys.executable, str(SCRIPT), "--check", "--output", str(stale)],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 1
    assert "-│ --version                     Show the version." in checked.stdout
    assert "+│ --version                     Show the version and exit." in checked.stdout
    assert "is stale: run scripts/cli-reference" in checked.stderr
    assert stale.read_bytes() == before  # --check writes nothing
    written = subprocess.run([sys.executable, str(SCRIPT), "--output", str(stale)], capture_output=True, text=True,
                             timeout=120)
    assert written.returncode == 0, written.stderr
    assert stale.read_text(encoding="utf-8") == current.read_text(encoding="utf-8")


def test_every_relative_link_in_the_readme_and_docs_reaches_a_file_and_heading():
    problems = [problem for page in PAGES for problem in broken_links(page)]
    assert not problems, "\n".join(problems)


def test_the_link_check_catches_a_missing_file_a_missing_heading_and_ignores_code(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "other.md").write_text("# Other page\n\n## Keeping up: `--follow` and SQS\n\n## Same\n\n## Same\n")
    page = docs / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](other.md#keeping-up---follow-and-sqs) [twice](other.md#same-1) [here](#page) "
        "[web](https://example.invalid/x)\n"
        "[gone](missing.md) [no heading](other.md#nowhere)\n"
        "`[in code](missing-too.md)`\n\n```md\n[fenced](missing-three.md)\n```\n")
    problems = broken_links(page, root=tmp_path)
    assert problems == ["docs/page.md:4: missing.md (no such file)",
                        "docs/page.md:4: other.md#nowhere (no heading #nowhere in other.md)"]


def test_headings_get_githubs_anchors():
    assert github_anchor("Keeping up: `--follow` and SQS queues") == "keeping-up---follow-and-sqs-queues"
    assert github_anchor("Drift: console changes to resources automation manages") == \
        "drift-console-changes-to-resources-automation-manages"
    assert github_anchor("`vm.max_map_count`") == "vmmax_map_count"
    assert github_anchor("From hint to script: commands with their arguments, workflows as scripts") == \
        "from-hint-to-script-commands-with-their-arguments-workflows-as-scripts"
