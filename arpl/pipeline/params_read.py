"""Which ``params.yaml`` keys a stage reads, derived from its code with :mod:`ast`, function by function.

:mod:`arpl.pipeline.stage_deps` finds the modules a stage imports; a module often serves several stages with
different functions (``load_ood_set`` reads ``ood.noise_count``, ``open_set`` in the same module does not), so the
keys are read off the code the stage can reach (:func:`arpl.pipeline.code_index.reachable`: the functions and
classes its notebook and subcommand use, transitively, and the module-level statements of what it imports).

In that code, the dict named ``params`` (:data:`PARAMS_NAME`, the name every stage and helper gives it) is read so:
``params["section"]["key"]`` reads that key; ``x = params["section"]`` then ``x["key"]`` too; a section handed to
:func:`arpl.training.specs.from_sections` reads the spec's ``setting`` fields of it; ``{**params, ...}`` copies
(read where the copy is read), ``return params`` hands it back, and passing ``params`` to an ``arpl`` function
that names its argument ``params`` (directly, by keyword or through ``functools.partial``) hands the reading to
that function. Any other use (a section passed whole, ``params`` iterated or given to other code, a key that is
not a string constant) reads the whole section, or every section. A ``params`` that a function takes annotated as
something other than a dict, or binds only to lists or tuples (torch's parameters), is another thing.

What cannot be seen this way is counted whole, never left out: the derivation over-approximates.
"""

from __future__ import annotations

import ast

from arpl.pipeline.code_index import CodeIndex, Unit, meaning, unit_nodes

PARAMS_NAME = "params"
_NO_READ: frozenset[str] = frozenset()


def params_read(index: CodeIndex, units: list[Unit], sections: set[str]) -> set[str]:
    """``"section"`` or ``"section.key"`` for everything the ``params`` dict of ``units`` gives away (see the
    module docstring); every section when the whole dict escapes."""
    read: set[str] = set()
    for unit in units:
        if unit not in index.reads:
            index.reads[unit] = set().union(*(_reads_in(index, unit.module, top, sections)
                                              for top in unit_nodes(index, unit)))
        read |= index.reads[unit]
    return read


def _reads_in(index: CodeIndex, module: str, top: ast.AST, sections: set[str]) -> set[str]:
    parents = {child: node for node in ast.walk(top) for child in ast.iter_child_nodes(node)}
    aliases = _section_aliases(top, sections)
    read: set[str] = set()
    for node in ast.walk(top):
        if not (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)):
            continue
        if node.id == PARAMS_NAME:
            scope = _enclosing_scope(node, parents, top)
            if _names_the_params_dict(scope):
                read |= _use_of_params(index, module, node, parents, sections, aliases, scope)
        elif node.id in aliases and not _is_spread(node, parents):
            key = _constant_key(node, parents)
            read |= {f"{section}.{key}" if key else section for section in aliases[node.id]}
    return read


_NOT_A_DICT = (ast.List, ast.ListComp, ast.Set, ast.SetComp, ast.GeneratorExp, ast.Tuple)
_NOT_A_DICT_TYPES = ("Parameter", "Tensor", "Iterable", "Sequence", "list", "tuple")   # in an annotation
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _enclosing_scope(node: ast.AST, parents: dict, top: ast.AST) -> ast.AST:
    """The innermost function around ``node`` (or ``top``)."""
    while node is not top and node in parents:
        node = parents[node]
        if isinstance(node, _FUNCTIONS):
            return node
    return top


def _names_the_params_dict(scope: ast.AST) -> bool:
    """Whether ``params`` in ``scope`` is the params dict: not when the function takes a ``params`` argument
    annotated as a sequence or torch's parameters (``Iterable[nn.Parameter]``), nor when ``params`` is only assigned
    lists, tuples, sets or generators there (torch's parameters, in the training code). In doubt it is."""
    arguments = scope.args.posonlyargs + scope.args.args + scope.args.kwonlyargs if isinstance(
        scope, _FUNCTIONS) else []
    for argument in arguments:
        if argument.arg == PARAMS_NAME:
            annotation = ast.unparse(argument.annotation) if argument.annotation is not None else ""
            return not any(kind in annotation for kind in _NOT_A_DICT_TYPES)
    assigned = [value for target, value in _bindings(scope)
                if isinstance(target, ast.Name) and target.id == PARAMS_NAME]
    return not assigned or not all(isinstance(value, _NOT_A_DICT) for value in assigned)


def _section_aliases(top: ast.AST, sections: set[str]) -> dict[str, set[str]]:
    """Local names bound to a section: ``train = params["train"]``, ``data, train = params["data"], ...``."""
    aliases: dict[str, set[str]] = {}
    for target, value in _bindings(top):
        section = _section_of(value, sections)
        if isinstance(target, ast.Name) and section and target.id != PARAMS_NAME:
            aliases.setdefault(target.id, set()).add(section)
    return aliases


def _bindings(top: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    """(target, value) of every single assignment in ``top``, tuples unpacked element by element."""
    pairs = []
    for node in ast.walk(top):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
                pairs.extend(zip(target.elts, value.elts))
            else:
                pairs.append((target, value))
    return pairs


def _section_of(node: ast.AST, sections: set[str]) -> str | None:
    """``"train"`` for the node ``params["train"]``, else None."""
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == PARAMS_NAME
            and isinstance(node.slice, ast.Constant) and node.slice.value in sections):
        return node.slice.value
    return None


def _constant_key(node: ast.AST, parents: dict) -> str | None:
    """``"key"`` when ``node`` is indexed by a string constant (``node["key"]``), else None."""
    parent = parents.get(node)
    if isinstance(parent, ast.Subscript) and parent.value is node and isinstance(parent.slice, ast.Constant) \
            and isinstance(parent.slice.value, str):
        return parent.slice.value
    return None


def _is_spread(node: ast.AST, parents: dict) -> bool:
    """Whether ``node`` is spread into a new dict (``{**node, ...}``): a copy, read where the copy is read."""
    parent = parents.get(node)
    return isinstance(parent, ast.Dict) and any(key is None and value is node
                                                for key, value in zip(parent.keys, parent.values))


def _use_of_params(index: CodeIndex, module: str, node: ast.Name, parents: dict, sections: set[str],
                   aliases: dict[str, set[str]], scope: ast.AST) -> set[str]:
    """What one occurrence of ``params`` (in function ``scope``) reads."""
    section = _constant_key(node, parents)
    if section is not None:
        if section not in sections:
            return _NO_READ   # another dict that happens to be called params
        subscript = parents[node]
        key = _constant_key(subscript, parents)
        if key is not None:
            return {f"{section}.{key}"}
        if _is_spread(subscript, parents) or _bound_to_alias(subscript, parents, aliases):
            return _NO_READ   # a copy, or an alias whose own uses are counted
        if isinstance(parents.get(subscript), ast.Dict):
            return _spec_settings(index, module, scope, section) or {section}
        return {section}
    if _is_spread(node, parents) or isinstance(parents.get(node), ast.Return) or _handed_on(index, module, node,
                                                                                           parents):
        return _NO_READ
    return set(sections)


def _spec_settings(index: CodeIndex, module: str, scope: ast.AST, section: str) -> set[str]:
    """The keys of ``section`` that the specs built in ``scope`` by ``from_sections(SpecType, {...})``
    (:func:`arpl.training.specs.from_sections`) read: the fields of ``SpecType`` declared
    ``setting(section, ..., key=...)``. Empty when ``scope`` builds no spec."""
    keys: set[str] = set()
    for node in ast.walk(scope):
        if isinstance(node, ast.Call) and _callee_name(node.func) == "from_sections" and node.args:
            spec = meaning(index, module, node.args[0])
            definition = index.definition(spec) if isinstance(spec, Unit) else None
            if not isinstance(definition, ast.ClassDef):
                return set()   # a spec type that cannot be read here: the whole section
            keys |= {f"{section}.{key}" for field_section, key in _setting_fields(definition)
                     if field_section == section}
    return keys


def _setting_fields(spec: ast.ClassDef) -> list[tuple[str, str]]:
    """(section, key) of every field ``name: type = setting("section", ..., key="key")`` of a spec class."""
    found = []
    for node in spec.body:
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(node.value, ast.Call)
                and _callee_name(node.value.func) == "setting" and node.value.args
                and isinstance(node.value.args[0], ast.Constant)):
            key = next((k.value.value for k in node.value.keywords if k.arg == "key"
                        and isinstance(k.value, ast.Constant) and k.value.value), node.target.id)
            found.append((node.value.args[0].value, key))
    return found


def _bound_to_alias(subscript: ast.AST, parents: dict, aliases: dict[str, set[str]]) -> bool:
    """Whether ``params["section"]`` is assigned to one of the local ``aliases`` (alone or in a tuple)."""
    parent = parents.get(subscript)
    if isinstance(parent, ast.Tuple):
        position, assignment = parent.elts.index(subscript), parents.get(parent)
        if not (isinstance(assignment, ast.Assign) and isinstance(assignment.targets[0], ast.Tuple)
                and len(assignment.targets[0].elts) == len(parent.elts)):
            return False
        target = assignment.targets[0].elts[position]
    elif isinstance(parent, ast.Assign) and len(parent.targets) == 1:
        target = parent.targets[0]
    else:
        return False
    return isinstance(target, ast.Name) and target.id in aliases


def _handed_on(index: CodeIndex, module: str, node: ast.Name, parents: dict) -> bool:
    """Whether ``node`` is an argument of a call to an ``arpl`` function whose parameter there is named
    ``params`` (also through ``functools.partial``): that function's reads count where it is reachable."""
    call = parents.get(node)
    if isinstance(call, ast.keyword):
        call = parents.get(call)
    if not isinstance(call, ast.Call):
        return False
    function, args = call.func, list(call.args)
    if _callee_name(function) == "partial" and args:
        function, args = args[0], args[1:]
    target = meaning(index, module, function)
    definition = index.definition(target) if isinstance(target, Unit) else None
    if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    parameters = [arg.arg for arg in definition.args.posonlyargs + definition.args.args]
    if node in args:
        position = args.index(node)
        return position < len(parameters) and parameters[position] == PARAMS_NAME
    return any(keyword.value is node and keyword.arg == PARAMS_NAME for keyword in call.keywords)


def _callee_name(function: ast.AST) -> str | None:
    if isinstance(function, ast.Name):
        return function.id
    return function.attr if isinstance(function, ast.Attribute) else None
