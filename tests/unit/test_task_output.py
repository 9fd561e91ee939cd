"""TaskOutput keeps head and tail within the cap, in memory and on disk."""

from toru.tasks.output import TaskOutput, recover_spool


def feed(output, stream, text, chunk=1000):
    for i in range(0, len(text), chunk):
        output.add(stream, text[i:i + chunk])


def test_small_output_is_kept_whole_with_streams_apart(tmp_path):
    out = TaskOutput(tmp_path / "t.out", 4096)
    out.add("stdout", "a\n")
    out.add("stderr", "b\n")
    out.add("stdout", "c\n")
    assert out.text() == "a\nb\nc\n" and out.omitted == 0
    assert out.replay() == [("stdout", "a\n"), ("stderr", "b\n"), ("stdout", "c\n")]
    assert (tmp_path / "t.out").read_text() == "a\nb\nc\n"


def test_large_output_keeps_head_and_tail_and_says_how_much_went(tmp_path):
    out = TaskOutput(tmp_path / "t.out", 4096)
    text = "".join(f"line {i}\n" for i in range(100_000))
    feed(out, "stdout", text, chunk=777)
    kept = out.text()
    assert out.total_bytes == len(text)
    assert kept.startswith(text[:2048])
    assert kept.endswith(text[-2048:])
    assert f"… {len(text) - 4096} bytes omitted …" in kept
    replay = "".join(t for _, t in out.replay())
    assert replay == kept


def test_the_spool_file_stays_bounded_and_recovers_head_and_tail(tmp_path):
    spool = tmp_path / "t.out"
    out = TaskOutput(spool, 4096)
    text = "".join(f"{i}\n" for i in range(200_000))
    feed(out, "stdout", text)
    assert spool.stat().st_size <= 4 * 4096 + 1000
    recovered, truncated, _ = recover_spool(spool, 4096)
    assert truncated and recovered.startswith(text[:2048]) and recovered.endswith(text[-2048:])
    out.close()
    assert not spool.exists()


def test_multibyte_characters_split_between_reads_survive(tmp_path):
    out = TaskOutput(tmp_path / "t.out", 4096)
    data = "café ☕\n".encode()
    pieces = [out.decode("stdout", data[i:i + 1]) for i in range(len(data))]
    assert "".join(text for _, text in pieces) == "café ☕\n"
    # The raw bytes come out whole characters at a time, with the text they decode to.
    assert [raw for raw, _ in pieces if raw] == [c.encode() for c in "café ☕\n"]
    assert all(raw.decode() == text for raw, text in pieces)
    assert out.decode("stderr", b"\xff\xfe ok", final=True) == (b"\xff\xfe ok", "\ufffd\ufffd ok")


def test_a_character_the_script_never_finished_is_let_go_at_eof(tmp_path):
    out = TaskOutput(tmp_path / "t.out", 4096)
    assert out.decode("stdout", b"ok \xe2\x82") == (b"ok ", "ok ")
    assert out.decode("stdout", b"", final=True) == (b"\xe2\x82", "\ufffd")


def test_non_ascii_output_is_capped_in_bytes(tmp_path):
    out = TaskOutput(tmp_path / "t.out", 4096)
    feed(out, "stdout", "é" * 10_000, chunk=333)
    kept = out.text()
    assert len(kept.encode()) <= 4096 + 100
    assert out.total_bytes == 20_000
