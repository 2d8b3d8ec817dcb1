"""Checkpoint registration validates like transformers loads, and refuses what is unsafe or broken."""

from __future__ import annotations

import json
import shutil

import pytest
from django.core.exceptions import ValidationError

from hub.checkpoint_files import read_safetensors_header
from hub.models import Blob, ModelVersion, RegisteredModel
from hub.services.models import import_checkpoint
from tests.conftest import MINILM_DIR


def register(owner, organization, directory):
    return import_checkpoint(user=owner, organization=organization, slug="tiny", directory=directory,
                             license="Apache-2.0")  # fmt: skip


def test_the_bundled_minilm_registers_with_its_real_parameter_count(owner, organization):
    version = import_checkpoint(user=owner, organization=organization, slug="minilm", directory=MINILM_DIR,
                                license="apache-2.0")  # fmt: skip
    assert version.model.license == "Apache-2.0"  # normalized spelling
    assert version.origin == ModelVersion.Origin.UPLOAD
    assert version.architecture == "BertModel"
    from safetensors import safe_open

    with safe_open(MINILM_DIR / "model.safetensors", "np") as handle:
        expected = sum(handle.get_tensor(key).size for key in handle.keys())
    assert version.num_parameters == expected
    assert 22_000_000 < expected < 23_000_000
    assert {"config.json", "model.safetensors", "tokenizer.json", "1_Pooling/config.json"} <= {
        f.path for f in version.files.all()
    }


def test_a_tiny_checkpoint_registers(owner, organization, small_checkpoint):
    version = register(owner, organization, small_checkpoint)
    assert version.number == 1
    assert version.tensor_summary["F32"]["parameters"] == version.num_parameters


@pytest.mark.parametrize(
    ("breakage", "fragment"),
    [
        ("pickle", "pickle weights are refused"),
        ("corrupt_header", "corrupted safetensors"),
        ("truncated_weights", "corrupted safetensors"),
        ("config_not_json", "config.json is not valid JSON"),
        ("config_unknown_type", "does not load with transformers"),
        ("no_weights", "no .safetensors weights"),
        ("no_tokenizer", "no tokenizer files"),
    ],
)
def test_broken_or_unsafe_checkpoints_are_refused_and_nothing_is_stored(
    owner, organization, small_checkpoint, breakage, fragment
):
    weights = small_checkpoint / "model.safetensors"
    if breakage == "pickle":
        (small_checkpoint / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    elif breakage == "corrupt_header":
        data = bytearray(weights.read_bytes())
        data[8:20] = b"not json at!"
        weights.write_bytes(bytes(data))
    elif breakage == "truncated_weights":
        weights.write_bytes(weights.read_bytes()[:-1000])
    elif breakage == "config_not_json":
        (small_checkpoint / "config.json").write_text("{model_type: bert")
    elif breakage == "config_unknown_type":
        (small_checkpoint / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    elif breakage == "no_weights":
        weights.unlink()
    elif breakage == "no_tokenizer":
        for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
            (small_checkpoint / name).unlink()
    with pytest.raises(ValidationError) as error:
        register(owner, organization, small_checkpoint)
    assert fragment in " ".join(error.value.message_dict["files"])
    assert RegisteredModel.objects.count() == 0
    assert Blob.objects.count() == 0


def test_safetensors_header_reader_matches_the_library(small_checkpoint):
    from safetensors import safe_open

    header = read_safetensors_header(small_checkpoint / "model.safetensors")
    with safe_open(small_checkpoint / "model.safetensors", "np") as handle:
        assert set(handle.keys()) == {k for k in header if k != "__metadata__"}
        for key in handle.keys():
            assert list(handle.get_slice(key).get_shape()) == header[key]["shape"]


def test_a_symlink_in_the_directory_is_refused(owner, organization, small_checkpoint, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me")
    (small_checkpoint / "notes.txt").symlink_to(secret)
    with pytest.raises(ValidationError, match="symbolic links"):
        register(owner, organization, small_checkpoint)
    shutil.rmtree(small_checkpoint)
