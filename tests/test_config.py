"""Profiles select sizes and data sources; unknown names fail clearly."""
import pytest

from emolib.config import emolib_home, profile


def test_sample_is_embedded_and_quiet():
    p = profile("sample")
    assert p.data == "embedded" and p.weights is None and not p.progress and p.is_sample
    assert "sample" in p.label


def test_full_uses_real_data_and_real_weights():
    p = profile("full")
    assert p.data == "real" and p.weights == "vggface" and p.image_size == 224


def test_overrides_apply_and_unknown_settings_fail():
    assert profile("sample", epochs=1).epochs == 1
    with pytest.raises(ValueError, match="unknown profile setting"):
        profile("sample", epoch=1)
    with pytest.raises(ValueError, match="unknown profile"):
        profile("tiny")


def test_emolib_home_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOLIB_HOME", str(tmp_path / "cache"))
    assert emolib_home() == tmp_path / "cache" and (tmp_path / "cache").is_dir()


def test_local_uses_real_data_facenet_weights_and_a_cpu_budget():
    p = profile("local")
    assert p.data == "real" and p.weights == "facenet" and p.image_size == 96
    assert p.budget_min and p.budget_min > 0 and not p.is_sample
    assert profile("full").budget_min is None
