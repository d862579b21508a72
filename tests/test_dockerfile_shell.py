"""The one shell tokenizer: words, commands, comments and heredocs, with exact offsets."""

from __future__ import annotations

from mlfix.dockerfile import shell


def test_words_keep_their_offsets_across_continuations() -> None:
    text = 'RUN a && \\\n    hf download "org/m" \\\n    # a comment\n    --include *.json\n'
    found = shell.commands(text, 0, len(text))
    assert [w.value for w in found[1].words] == ["hf", "download", "org/m", "--include", "*.json"]
    repo = found[1].words[2]
    assert text[repo.start : repo.end] == '"org/m"'
    assert found[0].operator == "&&"


def test_a_comment_ends_the_command_and_runs_over_continuations() -> None:
    text = "pip install -r r.txt # deps \\\n  && pip install x\n"
    [segment] = shell.segments(text)
    assert [w.value for w in shell.words(segment.text)] == ["pip", "install", "-r", "r.txt"]
    assert text[: shell.end_of_text(text)] == "pip install -r r.txt"


def test_segments_tile_the_text_and_keep_subshells_whole() -> None:
    text = "apt-get update && (cd x && make) | tee log ; echo 'a && b'"
    found = shell.segments(text)
    assert [s.operator_before for s in found] == [None, "&&", "|", ";"]
    assert "".join((s.operator_before or "") + s.text for s in found) == text
    assert found[1].text == " (cd x && make) "


def test_backtick_escape_continues_lines_and_backslash_stays_the_shells() -> None:
    text = "pip install a `\r\n    b\\ c\r\n"
    assert [w.value for w in shell.words(text, "`")] == ["pip", "install", "a", "b c"]
    assert shell.end_of_text(text, "`") == text.index("c") + 1


def test_redirections_and_expansion() -> None:
    ws = shell.words("""echo "$HOME/x" '$HOME' ${A:-d} \\$B $C 2>&1 >/dev/null""")
    assert [w.expand({"HOME": "/root"}) for w in ws if w.redirect is None] == [
        ("echo", ()),
        ("/root/x", ()),
        ("$HOME", ()),
        ("d", ()),
        ("$B", ()),
        ("$C", ("C",)),
    ]
    assert [(w.value, w.redirect) for w in ws if w.redirect] == [("1", ">&"), ("/dev/null", ">")]


def test_heredoc_bodies_are_not_commands() -> None:
    lexed = shell.lex("cat <<-EOF > x && echo a\n\thello && rm -rf /\n\tEOF\necho hi\n")
    assert [h.body for h in lexed.heredocs] == ["\thello && rm -rf /\n"]
    assert [
        [w.value for w in c.words] for c in shell.commands("cat <<-EOF > x\n\tb\n\tEOF\nls\n")
    ] == [
        ["cat", "EOF", "x"],
        ["ls"],
    ]


def test_nothing_is_appended_after_a_lone_backslash() -> None:
    """With `# escape=\\``, a final `\\` is the shell's: a word appended after it would
    start with an escaped blank."""
    text = "pip install \\"
    assert text[: shell.end_of_text(text, "`")] == "pip install"
