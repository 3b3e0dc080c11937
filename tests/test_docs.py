"""The documentation stays true to the tree: every relative link in README.md, docs/ and the
configs' READMEs resolves (files, and #anchors to the headings of markdown files), every
repository path the docs name exists, and README.md stays a front door (at most 300 lines)."""

from __future__ import annotations

import glob
import itertools
import os.path as osp
import re
from functools import cache

import pytest

from tests.conftest import REPO_ROOT

README_MAX_LINES = 300

#: Top-level folders whose paths the docs name from the repository root (`tools/train.py`).
REPO_FOLDERS = ('configs', 'docs', 'dfvt_mm', 'requirements', 'tests', 'tools')

FENCE = re.compile(r'^\s*(```|~~~)')
HEADING = re.compile(r'^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$')
CODE_SPAN = re.compile(r'(`+)(.+?)\1')
INLINE_LINK = re.compile(r'!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
REFERENCE_LINK = re.compile(r'^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$')
REPO_PATH = re.compile(r'(?<![\w./:-])((?:' + '|'.join(REPO_FOLDERS) + r')/[\w./{},*<>-]*)')


def doc_files() -> list[str]:
    """README.md, docs/**/*.md and configs/**/README.md, relative to the repository root."""
    patterns = ('README.md', 'docs/**/*.md', 'configs/**/README.md')
    paths = (glob.glob(osp.join(REPO_ROOT, p), recursive=True) for p in patterns)
    return sorted(osp.relpath(p, REPO_ROOT) for p in itertools.chain(*paths))


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, numbered from 1."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def code_lines(text: str) -> list[tuple[int, str]]:
    """The lines inside fenced code blocks, numbered from 1."""
    prose = {number for number, _ in prose_lines(text)}
    return [
        (number, line)
        for number, line in enumerate(text.splitlines(), 1)
        if number not in prose and not FENCE.match(line)
    ]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', text)  # a link's text stays
    text = re.sub(r'<[^>]+>', '', text).strip().lower()
    return re.sub(r'[^\w\- ]', '', text).replace(' ', '-')


@cache
def anchors(path: str) -> frozenset[str]:
    """The anchors of a markdown file's headings (repeated ones get GitHub's -1, -2 ...)."""
    with open(path, encoding='utf-8') as f:
        text = f.read()
    seen: dict[str, int] = {}
    found = set()
    for _, line in prose_lines(text):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f'{base}-{count}')
    found.update(re.findall(r'<a\s+(?:name|id)="([^"]+)"', text))
    return frozenset(found)


def links(text: str) -> list[tuple[int, str]]:
    """``(line, target)`` of each inline and reference link outside code."""
    found = []
    for number, line in prose_lines(text):
        line = CODE_SPAN.sub('', line)
        found += [(number, target) for target in INLINE_LINK.findall(line)]
        reference = REFERENCE_LINK.match(line)
        if reference:
            found.append((number, reference.group(1)))
    return found


def broken_link(doc: str, target: str) -> str | None:
    """Why ``target`` (a link in ``doc``) does not resolve, or None when it does."""
    if re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*:', target) or target.startswith('//'):
        return None  # a URL (https:, mailto:): not checked, no network here
    file_part, _, anchor = target.partition('#')
    if file_part:
        path = osp.normpath(osp.join(REPO_ROOT, osp.dirname(doc), file_part))
    else:
        path = osp.join(REPO_ROOT, doc)
    if not osp.exists(path):
        return f'{osp.relpath(path, REPO_ROOT)} does not exist'
    if not osp.realpath(path).startswith(osp.realpath(REPO_ROOT) + osp.sep):
        return 'points outside the repository'
    if anchor and path.endswith('.md') and anchor not in anchors(path):
        return f'{osp.relpath(path, REPO_ROOT)} has no heading #{anchor}'
    return None


def expand_braces(path: str) -> list[str]:
    """``a/{b,c}.py`` -> ``['a/b.py', 'a/c.py']`` (shell brace expansion, one level)."""
    match = re.search(r'\{([^{}]*)\}', path)
    if not match:
        return [path]
    head, tail = path[: match.start()], path[match.end() :]
    return [p for part in match.group(1).split(',') for p in expand_braces(head + part + tail)]


def named_paths(text: str) -> list[tuple[int, str]]:
    """``(line, path)`` of each repository path the text names in code: ``tools/train.py`` in
    a code span or a command. Placeholders (``<ts>``, ``*``, ``...``) are skipped, and so is a
    path after a possessive ("mmdeploy's `tools/deploy.py`"), which names another project's file.
    """
    prose = dict(prose_lines(text))
    # Fenced lines blanked, so that offsets keep their line numbers and a possessive on the
    # line before a path still counts.
    blanked = '\n'.join(prose.get(n, '') for n in range(1, len(text.splitlines()) + 1))
    pieces = [
        (blanked.count('\n', 0, m.start()) + 1, m.group(2), blanked[: m.start()])
        for m in CODE_SPAN.finditer(blanked)
    ]
    pieces += [(n, line, '') for n, line in code_lines(text)]
    found = []
    for number, code, before in pieces:
        if before.rstrip().endswith(("'s", "'")):
            continue
        for match in REPO_PATH.finditer(code):
            path = match.group(1).rstrip('.,:;')
            if any(mark in path for mark in ('<', '>', '*', '...')):
                continue
            found += [(number, p) for p in expand_braces(path)]
    return found


DOCS = doc_files()


def test_the_docs_are_found():
    assert 'README.md' in DOCS and 'configs/README.md' in DOCS
    assert any(doc.startswith('docs/') for doc in DOCS)


@pytest.mark.parametrize('doc', DOCS)
def test_relative_links_resolve(doc):
    with open(osp.join(REPO_ROOT, doc), encoding='utf-8') as f:
        text = f.read()
    broken = []
    for number, target in links(text):
        reason = broken_link(doc, target)
        if reason:
            broken.append(f'{doc}:{number}: ({target}) {reason}')
    assert not broken, '\n'.join(broken)


@pytest.mark.parametrize('doc', DOCS)
def test_named_repository_paths_exist(doc):
    with open(osp.join(REPO_ROOT, doc), encoding='utf-8') as f:
        text = f.read()
    missing = [
        f'{doc}:{number}: {path}'
        for number, path in named_paths(text)
        if not osp.exists(osp.join(REPO_ROOT, path))
    ]
    assert not missing, 'named in the docs, not in the repository:\n' + '\n'.join(missing)


def test_readme_is_a_front_door():
    with open(osp.join(REPO_ROOT, 'README.md'), encoding='utf-8') as f:
        lines = f.read().splitlines()
    assert len(lines) <= README_MAX_LINES, f'README.md has {len(lines)} lines'


# The checker itself, on text whose answer is known.


def test_slug_is_githubs():
    assert slug('The main job: `make demo`') == 'the-main-job-make-demo'
    assert slug('Speed and memory: `tools/analysis/benchmark.py`') == (
        'speed-and-memory-toolsanalysisbenchmarkpy'
    )
    assert slug("Training curves: mmpretrain's `analyze_logs`") == (
        'training-curves-mmpretrains-analyze_logs'
    )
    assert slug('mmdeploy 1.3.1 on torch 2.13') == 'mmdeploy-131-on-torch-213'


def test_links_outside_code_only():
    text = '\n'.join(
        [
            'See [a](docs/a.md#x) and ![b](b.png "title") and `[c](c.md)`.',
            '```',
            '[d](d.md)',
            '```',
            '[e]: <e.md>',
            '[f](https://example.com/f.md)',
        ]
    )
    assert links(text) == [
        (1, 'docs/a.md#x'),
        (1, 'b.png'),
        (5, 'e.md'),
        (6, 'https://example.com/f.md'),
    ]


def test_broken_links_are_found():
    assert broken_link('README.md', 'configs/README.md') is None
    assert broken_link('configs/toy/README.md', '../README.md') is None
    assert broken_link('README.md', 'https://example.com/missing') is None
    assert broken_link('README.md', 'no/such/file.md') == 'no/such/file.md does not exist'
    assert broken_link('README.md', '#no-such') == 'README.md has no heading #no-such'


def test_named_paths():
    text = '\n'.join(
        [
            "Run `tools/train.py`, `configs/dfvt_{t,s}_in1k.py` or mmdeploy's `tools/deploy.py`;",
            '`work_dirs/x/<ts>.json` and `tools/slurm_*.sh` are placeholders.',
            '```bash',
            'python tools/test.py configs/toy/dfvt_t_toy_in1k.py work_dirs/a.pth',
            '```',
        ]
    )
    assert named_paths(text) == [
        (1, 'tools/train.py'),
        (1, 'configs/dfvt_t_in1k.py'),
        (1, 'configs/dfvt_s_in1k.py'),
        (4, 'tools/test.py'),
        (4, 'configs/toy/dfvt_t_toy_in1k.py'),
    ]
