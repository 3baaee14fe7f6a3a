"""Command line: ``python -m arpl {check, prepare-data, profile, download, notebook, train, prepare-tinyimagenet,
prepare-domainnet, prepare-imagenet, reproduce}``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import yaml


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m arpl", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate params.yaml and the data, run nothing")
    check.add_argument("--params", default="params.yaml")
    prepare = commands.add_parser("prepare-data", help="materialise the default data in run.data_root")
    prepare.add_argument("--params", default="params.yaml")
    profile = commands.add_parser("profile", help="copy a parameter profile to params.yaml")
    profile.add_argument("name", nargs="?", help="profile name; omit to list them")
    profile.add_argument("--output", default="params.yaml")
    profile.add_argument("--quick", action="store_true", help="the profile's quick run: its data, network and "
                         "stages on a budget of minutes (numbers mean nothing), to try the pipeline first")
    notebook = commands.add_parser("notebook", help="execute a stage notebook with papermill")
    notebook.add_argument("source")
    notebook.add_argument("output")
    notebook.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE")
    notebook.add_argument("--when", metavar="KEY", help="run only if params.yaml's KEY is true / non-empty; "
                          "otherwise record the stage as switched off")
    notebook.add_argument("--outs", nargs="*", default=[], help="the stage's outputs, created empty when switched off")
    train = commands.add_parser("train", help="train one method or variant on every split (works under torchrun)")
    train.add_argument("stage", choices=["train", "confusing"], help="train: a method; confusing: an ARPL+CS variant")
    train.add_argument("name", help="a method of train.methods (or its registered name), or a variant of "
                                       "confusing.variants")
    train.add_argument("--params", default="params.yaml")
    fetch = commands.add_parser("download", help="fetch the profile's datasets into data/downloads")
    fetch.add_argument("--params", default="params.yaml")
    tiny = commands.add_parser("prepare-tinyimagenet", help="sort TinyImageNet's val/ into class folders")
    tiny.add_argument("root", help="folder holding tiny-imagenet-200/")
    domain = commands.add_parser("prepare-domainnet", help="check DomainNet's folders and lists, cache 80 px images")
    domain.add_argument("root", help="folder holding domainnet/")
    imagenet = commands.add_parser("prepare-imagenet", help="extract the ImageNet archives into class folders")
    imagenet.add_argument("root", help="folder holding imagenet/ with the official archives")
    reproduce = commands.add_parser("reproduce", help="compare metrics/*.json of a finished run with a committed "
                                    "baseline: identical, within the measured seed spread, or outside it")
    reproduce.add_argument("--baseline", default="HEAD", metavar="REV", help="git revision of the baseline (HEAD)")
    reproduce.add_argument("--metrics", default="metrics", help="folder of the finished run's metric files")
    reproduce.add_argument("--spread", default="benchmarks/seed_spread.csv", help="the measured seed spread")
    reproduce.add_argument("--params", default="params.yaml")
    reproduce.add_argument("--all", action="store_true", help="list identical numbers too")
    args = parser.parse_args(argv)
    if args.command != "notebook":   # a stage notebook's runner applies it where the stage declares it
        _portable_kernels(getattr(args, "params", "params.yaml"))
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _portable_kernels(params_path: str) -> None:
    """``run.portable_kernels``: set the portable kernel settings (:mod:`arpl.portable`) before any command
    imports torch, so this process, a stage notebook's kernel and every worker it spawns compute with them."""
    from arpl.portable import apply_backend_flags, requested, set_environment

    set_environment(requested(params_path))
    apply_backend_flags()


def _check(args: argparse.Namespace) -> int:
    from arpl.pipeline.checks import check_everything
    from arpl.pipeline.params import load_params
    from arpl.stages.plan import plan_summary

    for line in check_everything(args.params) + plan_summary(load_params(args.params)):
        print(line)
    gaps = _own_module_gaps(args.params)
    for gap in gaps:
        print(f"error: {gap}", file=sys.stderr)
    return 1 if gaps else 0


def _prepare_data(args: argparse.Namespace) -> int:
    from arpl.data.sources import ensure_fashion_mnist
    from arpl.pipeline.params import load_params

    params = load_params(args.params)
    root = Path(params.run.data_root)
    raw = ensure_fashion_mnist(root, download=params.data.download)
    print(f"Fashion-MNIST ready and verified in {raw}")
    return 0


def _profile(args: argparse.Namespace) -> int:
    from arpl.atomic import save_text
    from arpl.pipeline.params import validate
    from arpl.pipeline.params.profiles import profile_names, profile_params, profile_text
    from arpl.pipeline.params.quick import quick_profile_text

    if args.name is None:
        print("profiles: " + ", ".join(profile_names()) + " (each also as a quick run: --quick)")
        return 0
    profile_params(args.name)  # validated before anything is written
    text = quick_profile_text(args.name) if args.quick else profile_text(args.name)
    validate(yaml.safe_load(text))
    save_text(text, args.output)
    kind = "the quick run of profile" if args.quick else "profile"
    print(f"{args.output} now holds {kind} {args.name!r}; run `dvc repro` (or `dvc exp run`).")
    return 0


def _notebook(args: argparse.Namespace) -> int:
    from arpl.pipeline.notebook import NotebookFailed, parse_parameters, run_notebook

    from arpl.pipeline.params.declared import raw_value

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("papermill").addFilter(_notebook_output_only)
    if raw_value(args.source, "run.portable_kernels", required=False) is not None:
        _portable_kernels("params.yaml")   # the stage computes numbers with models: its kernel takes the setting
    if args.when:
        from arpl.pipeline.notebook import write_switched_off

        value = raw_value(args.source, args.when)
        if not value:
            write_switched_off(args.output, Path(args.source).stem, args.when, value, args.outs)
            print(f"{args.source}: switched off by {args.when} = {value!r}; recorded in {args.output}")
            return 0
    gaps = _own_module_gaps("params.yaml", args.source)
    for gap in gaps:
        print(f"error: not started: {gap}", file=sys.stderr)
    if gaps:
        return 1
    try:
        run_notebook(args.source, args.output, parse_parameters(args.parameter))
    except NotebookFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _notebook_output_only(record: logging.LogRecord) -> bool:
    """papermill's log of a stage notebook: what its cells print, line for line (no per-cell chatter, and no
    blank line after each printed line: the printed text ends with its own newline)."""
    message = record.getMessage()
    if message.startswith(("Executing", "Ending Cell", "Input Notebook", "Output Notebook")):
        return False
    record.msg, record.args = message.removesuffix("\n"), ()
    return True


def _own_module_gaps(params_path: str, notebook: str | None = None) -> list[str]:
    """Your own modules named in ``params_path`` that a stage reading them misses in its deps in dvc.yaml
    (:func:`arpl.pipeline.params.declared.own_module_gaps`): of every stage, or of the one running ``notebook``."""
    from arpl.pipeline.params.declared import notebook_stage, own_module_gaps

    if not (Path("dvc.yaml").is_file() and Path(params_path).is_file()):
        return []
    stages = [notebook_stage(notebook)] if notebook else list(yaml.safe_load(Path("dvc.yaml").read_text())["stages"])
    params = yaml.safe_load(Path(params_path).read_text())   # as written: the stage validates it (and imports torch)
    return [gap for stage in stages if stage is not None for gap in own_module_gaps(params, stage)]


def _train(args: argparse.Namespace) -> int:
    """Train like the ``train`` / ``confusing`` stage notebooks do, into the same ``runs/`` checkpoints (so a
    following ``dvc repro`` reuses them); under ``torchrun --nproc_per_node=N`` with DistributedDataParallel."""
    import torch.distributed as dist

    from arpl.methods import registered_name
    from arpl.pipeline import runs
    from arpl.pipeline.runs import trained
    from arpl.pipeline.params.declared import stage_params
    from arpl.pipeline.params import load_params
    from arpl.stages import train
    from arpl.training.distributed import init_distributed

    # as the stage that trains them reads params.yaml, where there is a dvc.yaml (a torchrun elsewhere: all of it)
    params = stage_params(args.stage, args.params) if Path("dvc.yaml").is_file() else load_params(args.params)
    names = params.train.methods if args.stage == "train" else params.confusing.variants
    name = next((entry for entry in names if args.name in (entry, registered_name(entry))), None)
    if name is None:
        section = "train.methods" if args.stage == "train" else "confusing.variants"
        raise ValueError(f"{args.name!r} is not in {section} of {args.params} ({', '.join(names)}); pick one "
                         f"of those or add it there.")
    context = init_distributed(params.run.device)
    try:
        rows = trained.train_stage(params, args.stage, [name], context)[name]
        if context.is_main:
            for row in rows:
                metrics = "  ".join(f"{key} {value}" for key, value in train.headline(row).items())
                print(f"{runs.method_name(name)} {row['run']}: {metrics}", flush=True)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


def _download(args: argparse.Namespace) -> int:
    from arpl.pipeline.params.declared import stage_params
    from arpl.stages.download import download

    for name, status in download(stage_params("download", args.params)).items():
        print(f"{name}: {status}")
    return 0


def _prepare_tinyimagenet(args: argparse.Namespace) -> int:
    from arpl.data.folders import prepare_tinyimagenet

    print(f"TinyImageNet validation images sorted into class folders under {prepare_tinyimagenet(args.root)}")
    return 0


def _prepare_domainnet(args: argparse.Namespace) -> int:
    from arpl.data.domainnet import prepare_domainnet

    for line in prepare_domainnet(args.root):
        print(line)
    return 0


def _prepare_imagenet(args: argparse.Namespace) -> int:
    from arpl.data.imagenet import prepare_imagenet

    print(f"ImageNet-1K train/ and val/ class folders ready under {prepare_imagenet(args.root)}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    """Print the per-number comparison (:mod:`arpl.pipeline.report.reproduce`); exit 1 when a number lies outside the
    spread."""
    import pandas as pd

    from arpl.pipeline.params import load_params
    from arpl.pipeline.report.reproduce import (IDENTICAL, OUTSIDE, committed_metrics, compare, current_metrics,
                                                summary_line)
    from arpl.pipeline.report.spread import all_settings, load_spread, settings_fingerprint

    params = load_params(args.params)
    spread = load_spread(all_settings(params), args.spread)
    table = compare(current_metrics(args.metrics), committed_metrics(args.baseline, Path(args.metrics).as_posix()),
                    spread)
    shown = table if args.all else table[table.verdict != IDENTICAL]
    if spread is None:
        fingerprints = ", ".join(map(settings_fingerprint, all_settings(params)))
        print(f"seed spread: not measured for these settings (fingerprints {fingerprints} not in {args.spread}; "
              f"`python benchmarks/seed_spread.py` measures it)")
    else:
        print(f"seed spread: {spread.seeds} seeds on split {spread.split} ({args.spread}, fingerprint "
              f"{spread.fingerprint}); tolerance = 2 sqrt(2) sigma / sqrt(models averaged)")
    if not shown.empty:
        with pd.option_context("display.max_rows", None, "display.width", 200):
            print(shown.to_string(index=False, na_rep=""))
    print(summary_line(table, args.baseline))
    return 1 if (table.verdict == OUTSIDE).any() else 0


COMMANDS = {"check": _check, "prepare-data": _prepare_data, "profile": _profile, "notebook": _notebook,
            "train": _train, "prepare-tinyimagenet": _prepare_tinyimagenet, "download": _download,
            "prepare-domainnet": _prepare_domainnet, "prepare-imagenet": _prepare_imagenet,
            "reproduce": _reproduce}

if __name__ == "__main__":
    sys.exit(main())
