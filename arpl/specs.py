"""What defines a model and a training run: plain dataclasses, stored inside every checkpoint."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a classifier: backbone, head (loss) and input geometry."""

    method: str                     # a registered method (arpl.methods): Softmax | GCPL | RPL | ARPL, or "module:Class"
    backbone: str                   # see arpl.models.BACKBONES
    num_classes: int
    in_channels: int = 1
    image_size: int = 28
    feat_dim: int | None = None     # None: the backbone's own feature size
    width: int | None = None        # 'small' only: channels of the first convolution (None: 32)
    abn: bool = False               # auxiliary batch norm (Sec. 4.2)
    temperature: float = 1.0        # gamma = 1 / temperature (Eq. 7)
    weight_pl: float = 0.1          # lambda (Eq. 14)
    margin_form: str = "code"       # "code" | "paper" (Eq. 12)
    distance: str | None = None     # RPL/ARPL only: "l2" | "l2-dot"; None = the method's own (Fig. 8 ablation)


@dataclass(frozen=True)
class TrainSpec:
    """The optimisation of one run (Sec. 5.1-5.2), plain or with confusing samples (Algorithm 2)."""

    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[int, ...] = (30, 60, 90, 120)
    lr_gamma: float = 0.1
    seed: int = 0
    augment: bool = False
    confusing: bool = False         # Algorithm 2 (ARPL+CS)
    focus_training: bool = True     # the plain pass after each CS pass (step 6 of Algorithm 2)
    beta: float = 0.1               # Eq. 18-19
    entropy_form: str = "code"      # "code" | "paper" (Eq. 17)
    gan_lr: float = 2e-4
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    amp: bool = False               # bf16 autocast, CUDA only
    channels_last: bool = False     # CUDA only
    compile: bool = False
    on_nonfinite: str = "stop"      # "stop" | "skip_batch"
    data_tag: str = ""              # identifies the training data (dataset, split, subset)
    init_from: str = ""             # warm start: "<checkpoint path>@<its fingerprint>" ("" = from scratch)


def spec_dict(spec: ModelSpec | TrainSpec) -> dict:
    """A JSON-safe dict of a spec (tuples become lists)."""
    return json.loads(json.dumps(asdict(spec)))


def model_spec_from_dict(data: dict) -> ModelSpec:
    """Rebuild a :class:`ModelSpec` from :func:`spec_dict` output."""
    return ModelSpec(**data)


TRAINING_CODE = ("data", "models", "methods", "network.py", "training.py", "optim.py", "specs.py",
                 "checkpoint.py", "distributed.py")


def code_version() -> str:
    """A hash of the code that shapes training (:data:`TRAINING_CODE`): a checkpoint made by other
    training code is never resumed; editing plots or reports does not invalidate checkpoints."""
    digest = hashlib.sha256()
    root = Path(__file__).parent
    files = [path for name in TRAINING_CODE
             for path in ([root / name] if name.endswith(".py") else (root / name).rglob("*.py"))]
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def fingerprint(model: ModelSpec, train: TrainSpec) -> str:
    """Identity of a run: resuming is allowed only into a checkpoint with the same fingerprint. A method outside
    ``arpl`` (named ``module:Class``) adds the source of its module, which shapes its training too."""
    parts = [spec_dict(model), spec_dict(train), code_version()]
    if ":" in model.method:
        parts.append(module_source_version(model.method.partition(":")[0]))
    payload = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def module_source_version(module: str) -> str:
    """A hash of the source file of ``module``, found on the Python path."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not Path(spec.origin).is_file():
        raise ValueError(f"cannot find the source of module {module!r}; put it on the Python path")
    return hashlib.sha256(Path(spec.origin).read_bytes()).hexdigest()[:16]
