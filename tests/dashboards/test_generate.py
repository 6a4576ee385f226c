"""The committed dashboard JSON is exactly what dashboards/generate.py produces."""

from __future__ import annotations

import shutil

from dashboards import generate


def test_committed_json_matches_generator() -> None:
    stale = generate.stale_files()
    assert stale == [], f"run `.venv/bin/python -m dashboards.generate` and commit: {stale}"


def test_check_mode_names_a_hand_edited_file(tmp_path, monkeypatch, capsys) -> None:
    for name in generate.DASHBOARDS:
        shutil.copy(generate.HERE / name, tmp_path / name)
    edited = tmp_path / "fleet.json"
    edited.write_text(edited.read_text().replace("thpwatch / fleet", "hand edited"))
    monkeypatch.setattr(generate, "HERE", tmp_path)

    assert generate.main(["--check"]) == 1
    assert str(edited) in capsys.readouterr().err

    assert generate.main([]) == 0
    assert generate.main(["--check"]) == 0
