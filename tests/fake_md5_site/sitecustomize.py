"""Test support, loaded at interpreter start-up through PYTHONPATH by pipeline runs on synthetic data
(``tests/fake_data.py``): when ``ARPL_FAKE_MD5`` names a JSON file ``{dataset: {file: md5}}``, the md5 lists of
CIFAR and SVHN files get those md5s as soon as their modules are imported: arpl's copy
(``arpl.data.checksums.TORCHVISION_FILES``, which checks the files arpl reads) and torchvision's classes (which
check them where torchvision downloads). Without the variable it does nothing."""

import importlib.abc
import importlib.machinery
import json
import os
import sys

_MODULES = {"torchvision.datasets.cifar": ("CIFAR10", "CIFAR100"), "torchvision.datasets.svhn": ("SVHN",),
            "arpl.data.checksums": ()}


def _patch(module, md5s: dict) -> None:
    if module.__name__ == "arpl.data.checksums":  # {dataset: {"train"/"test"/"meta": [(file, md5), ...]}}
        for dataset, parts in module.TORCHVISION_FILES.items():
            files = md5s.get(dataset, {})
            for part, entries in parts.items():  # SVHN's md5s are keyed by split, CIFAR's by file
                parts[part] = [(filename, files.get(part if dataset == "svhn" else filename, md5))
                               for filename, md5 in entries]
        return
    for name in _MODULES[module.__name__]:
        cls = getattr(module, name)
        files = md5s.get(name.lower(), {})
        if name == "SVHN":
            cls.split_list = {split: [url, filename, files.get(split, md5)]
                              for split, (url, filename, md5) in cls.split_list.items()}
            continue
        cls.train_list = [[filename, files.get(filename, md5)] for filename, md5 in cls.train_list]
        cls.test_list = [[filename, files.get(filename, md5)] for filename, md5 in cls.test_list]
        cls.meta = {**cls.meta, "md5": files.get(cls.meta["filename"], cls.meta["md5"])}


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    def __init__(self, md5_file: str) -> None:
        self.md5_file = md5_file

    def find_spec(self, fullname, path, target=None):
        if fullname not in _MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            with open(self.md5_file) as handle:   # read when a patched module is imported
                _patch(module, json.load(handle))

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get("ARPL_FAKE_MD5"):
    sys.meta_path.insert(0, _PatchAfterImport(os.environ["ARPL_FAKE_MD5"]))
