"""Target text: parsing with ast, resolving names, building, and the typed errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sphinx_paramcount.build import build_model
from sphinx_paramcount.errors import ImportTargetError, InstantiateError, ParamcountError, TargetError
from sphinx_paramcount.target import Call, Container, Literal, Ref, materialise, parse_target, resolve_ref

ZOO = "tests.models.zoo"
NOT_FOUND_HINT = "check the spelling, and that the package is installed or on sys.path (conf.py)"
NOT_LITERAL_HINT = "compute the value in a factory function in your package and name that function"

# -- parsing --------------------------------------------------------------------------


def test_colon_form() -> None:
    ref = parse_target("mypkg.models:SimpleNet")
    assert ref == Ref(("SimpleNet",), "mypkg.models")
    assert isinstance(ref, Ref) and ref.text == "mypkg.models:SimpleNet"


def test_colon_form_with_spaces() -> None:
    assert parse_target("  mypkg.models : SimpleNet ") == Ref(("SimpleNet",), "mypkg.models")


def test_dotted_form() -> None:
    ref = parse_target("mypkg.models.SimpleNet")
    assert ref == Ref(("mypkg", "models", "SimpleNet"))
    assert isinstance(ref, Ref) and ref.text == "mypkg.models.SimpleNet"


def test_attribute_chain() -> None:
    assert parse_target("pkg.mod:Cls.from_config") == Ref(("Cls", "from_config"), "pkg.mod")


def test_call_with_literals() -> None:
    assert parse_target("torch.nn.Conv2d(16, 8, kernel_size=3, padding=1)") == Call(
        Ref(("torch", "nn", "Conv2d")),
        (Literal(16), Literal(8)),
        (("kernel_size", Literal(3)), ("padding", Literal(1))),
    )


def test_call_in_colon_form() -> None:
    assert parse_target("pkg.mod:Cls.make(1, name='x')") == Call(
        Ref(("Cls", "make"), "pkg.mod"), (Literal(1),), (("name", Literal("x")),)
    )


def test_literal_kinds_and_unary_minus() -> None:
    spec = parse_target("f(-1, +2.5, -3j, 'text', True, None, x=-0.5)")
    assert isinstance(spec, Call)
    assert spec.args == (Literal(-1), Literal(2.5), Literal(-3j), Literal("text"), Literal(True), Literal(None))
    assert spec.kwargs == (("x", Literal(-0.5)),)


def test_containers() -> None:
    spec = parse_target("f((1, [2, 3]), {'k': None, 1: torch.float16}, [])")
    assert isinstance(spec, Call)
    assert spec.args == (
        Container("tuple", (Literal(1), Container("list", (Literal(2), Literal(3))))),
        Container("dict", (Literal(None), Ref(("torch", "float16"))), (Literal("k"), Literal(1))),
        Container("list", ()),
    )


def test_nested_calls() -> None:
    spec = parse_target("transformers.AutoModel.from_config(transformers.BertConfig(num_hidden_layers=2), trust=False)")
    assert spec == Call(
        Ref(("transformers", "AutoModel", "from_config")),
        (Call(Ref(("transformers", "BertConfig")), (), (("num_hidden_layers", Literal(2)),)),),
        (("trust", Literal(False)),),
    )


def test_target_wrapped_over_lines() -> None:
    assert parse_target("torch.nn.Linear(\n    4,\n    2)") == Call(
        Ref(("torch", "nn", "Linear")), (Literal(4), Literal(2))
    )


def test_materialise() -> None:
    spec = parse_target(f"f((1, [2, -3]), {{'k': None}}, {ZOO}.MLPConfig(hidden=4))")
    assert isinstance(spec, Call)
    from tests.models.zoo import MLPConfig

    assert [materialise(a) for a in spec.args] == [(1, [2, -3]), {"k": None}, MLPConfig(hidden=4)]


# -- parse errors -------------------------------------------------------------------


def target_error(text: str) -> TargetError:
    with pytest.raises(TargetError) as info:
        parse_target(text)
    assert info.value.subtype == "target"
    return info.value


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty(text: str) -> None:
    err = target_error(text)
    assert err.message == "empty target"
    assert "mypkg.models:SimpleNet" in err.hint


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("torch.nn.Linear(4,", 16),  # the '(' that is never closed
        ("mod.sub:Cls(", 12),
        ("mod : Cls(", 10),
        ("a:b:c", 4),
        ("torch.nn.Linear(4 2)", 17),
    ],
)
def test_syntax_error_has_column(text: str, column: int) -> None:
    err = target_error(text)
    assert err.message.startswith(f"target {text!r} is not valid syntax at column {column}: ")
    assert err.hint == "write a dotted name or a call with literal arguments"


def test_nothing_after_colon() -> None:
    assert target_error("pkg.mod:").message == "target 'pkg.mod:' names no attribute after ':'"


def test_literal_is_not_a_model() -> None:
    err = target_error("42")
    assert err.message == "target '42' is a literal, not a model"
    assert err.hint == "name a class, a factory or a module instance"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("f(lambda: 1)", "'lambda: 1' is a lambda"),
        ("f(1 + 2)", "'1 + 2' is an operator expression"),
        ("f(2 * WIDTH)", "'2 * WIDTH' is an operator expression"),
        ("f(a or b)", "'a or b' is a boolean operator"),
        ("f(a < b)", "'a < b' is a comparison"),
        ("f(x[0])", "'x[0]' is a subscript"),
        ("f([i for i in x])", "'[i for i in x]' is a comprehension"),
        ("f(f'{x}')", "\"f'{x}'\" is an f-string"),
        ("f(1 if a else 2)", "'1 if a else 2' is a conditional expression"),
        ("f(-x)", "'-x' is an expression that is not a literal"),
        ("f(-True)", "'-True' is an expression that is not a literal"),
        ("f(*args)", "'*args' is an expression that is not a literal"),
        ("f(b'x')", "\"b'x'\" is an expression that is not a literal"),
    ],
)
def test_non_literal_arguments(text: str, message: str) -> None:
    err = target_error(text)
    assert err.message == f"{message}; targets allow only dotted names, calls and literals"
    assert err.hint == NOT_LITERAL_HINT


def test_attribute_of_call_result() -> None:
    err = target_error("pkg.make().encoder")
    assert err.message == (
        "'pkg.make().encoder': only dotted names may be used; an attribute of a call's result is not allowed"
    )
    assert err.hint == "name the object by its dotted path, or write a factory function that returns the model"


def test_call_of_call_result() -> None:
    assert target_error("f(1)(2)").message == "'f(1)(2)': only a dotted name may be called"


@pytest.mark.parametrize(
    ("text", "inner"),
    [("f([g()])", "g()"), ("f((1, g(2)))", "g(2)"), ("f({'a': g()})", "g()"), ("f({g(): 1})", "g()")],
)
def test_call_inside_a_container(text: str, inner: str) -> None:
    err = target_error(text)
    assert err.message == f"{inner!r} is a call inside a literal; only literals and dotted names may appear there"


def test_double_star_arguments() -> None:
    assert target_error("f(**kw)").message == "'f(**kw)': '**' arguments are not allowed"


# -- resolving names ------------------------------------------------------------------


def import_error(text: str) -> ImportTargetError:
    with pytest.raises(ImportTargetError) as info:
        build_model(text)
    assert info.value.subtype == "import"
    return info.value


@pytest.mark.parametrize("text", ["nosuchpkg_xyz:Model", "nosuchpkg_xyz.Model", "nosuchpkg_xyz.sub.Model"])
def test_module_not_found(text: str) -> None:
    err = import_error(text)
    assert err.message == f"no module named 'nosuchpkg_xyz' (target {text!r})"
    assert err.hint == NOT_FOUND_HINT


def test_submodule_not_found() -> None:
    err = import_error("tests.models.nosuch:Model")
    assert err.message == "no module named 'tests.models.nosuch' (target 'tests.models.nosuch:Model')"
    err = import_error("tests.models.nosuch.Model")
    assert err.message == "'tests.models' has no attribute 'nosuch' (target 'tests.models.nosuch.Model')"


@pytest.mark.parametrize("text", ["tests.models.broken_import:Model", "tests.models.broken_import.Model"])
def test_module_raising_on_import(text: str) -> None:
    err = import_error(text)
    assert err.message == (
        "importing 'tests.models.broken_import' failed: RuntimeError: this module is broken on purpose"
    )
    assert err.hint == "fix the error in that module, or install what it imports"


def test_module_raising_on_import_inside_a_call_argument() -> None:
    err = import_error("torch.nn.Linear(tests.models.broken_import.WIDTH, 2)")
    assert err.message.startswith("importing 'tests.models.broken_import' failed: RuntimeError")


@pytest.mark.parametrize(
    ("text", "where", "attr", "suggestion"),
    [
        (f"{ZOO}:SimpleNett", ZOO, "SimpleNett", "did you mean 'SimpleNet'?"),
        (f"{ZOO}.TiedLn", ZOO, "TiedLn", "did you mean 'TiedLM'?"),
        (f"{ZOO}:Configurable.smal", f"{ZOO}.Configurable", "smal", "did you mean 'small'?"),
        ("torch.nn.Conv2D(3, 8, 3)", "torch.nn", "Conv2D", "did you mean 'Conv2d'"),
        (f"{ZOO}:Zzzzzzzzzz", ZOO, "Zzzzzzzzzz", "check the name"),
    ],
)
def test_missing_attribute_suggests(text: str, where: str, attr: str, suggestion: str) -> None:
    err = import_error(text)
    target = text if "(" not in text else text.partition("(")[0]
    assert err.message == f"{where!r} has no attribute {attr!r} (target {target!r})"
    assert err.hint.startswith(suggestion)


def test_resolve_ref_follows_attributes() -> None:
    from tests.models import zoo

    assert resolve_ref(Ref(("Configurable", "small"), ZOO)) == zoo.Configurable.small
    assert resolve_ref(Ref(("tests", "models", "zoo", "Configurable", "small"))) == zoo.Configurable.small


# -- building ---------------------------------------------------------------------


def instantiate_error(text: str) -> InstantiateError:
    with pytest.raises(InstantiateError) as info:
        build_model(text)
    assert info.value.subtype == "instantiate"
    return info.value


def test_constructor_raising() -> None:
    err = instantiate_error(f"{ZOO}:Broken")
    assert err.message == f"building '{ZOO}:Broken' raised ValueError: broken on purpose"
    assert err.hint == "check the constructor's arguments in the target"
    assert isinstance(err.__cause__, ValueError)


def test_constructor_bad_arguments() -> None:
    err = instantiate_error("torch.nn.Linear(4, 2, bogus=1)")
    assert err.message == (
        "building 'torch.nn.Linear' raised TypeError: Linear.__init__() got an unexpected keyword argument 'bogus'"
    )


def test_sys_exit() -> None:
    err = instantiate_error(f"{ZOO}:Exits")
    assert err.message == f"building '{ZOO}:Exits' called sys.exit(3)"
    assert err.hint == "a model constructor must not exit the process"


def test_needs_arguments() -> None:
    with pytest.raises(TargetError) as info:
        build_model(f"{ZOO}:NeedsArgs")
    assert info.value.message == f"'{ZOO}:NeedsArgs' needs arguments that were not given: width"
    assert info.value.hint == f"write the call in the target, e.g. '{ZOO}:NeedsArgs(width=...)'"


def test_arguments_given() -> None:
    built = build_model(f"{ZOO}:NeedsArgs(4, depth=3)")
    assert sum(p.numel() for p in built.module.parameters()) == 3 * 20


def test_factory_returning_a_non_module() -> None:
    err = instantiate_error(f"{ZOO}:not_a_model")
    assert err.message == f"'{ZOO}:not_a_model' returned a int, not an nn.Module"
    assert err.hint == "the target must build a torch.nn.Module"


def test_not_callable() -> None:
    err = instantiate_error(f"{ZOO}:NOT_CALLABLE")
    assert err.message == f"'{ZOO}:NOT_CALLABLE' is a int, not an nn.Module, a class or a factory"
    err = instantiate_error(f"{ZOO}:NOT_CALLABLE(1)")
    assert err.message == f"'{ZOO}:NOT_CALLABLE' is a int, which cannot be called"
    err = instantiate_error("tests.models:zoo")
    assert err.message == "'tests.models:zoo' is a module, not an nn.Module, a class or a factory"


def test_nested_call_of_non_callable_is_a_target_error() -> None:
    with pytest.raises(TargetError) as info:
        build_model(f"{ZOO}:NeedsArgs({ZOO}.NOT_CALLABLE())")
    assert info.value.message == f"'{ZOO}.NOT_CALLABLE' is not callable"


def test_errors_share_a_base() -> None:
    for cls, subtype in [(TargetError, "target"), (ImportTargetError, "import"), (InstantiateError, "instantiate")]:
        assert issubclass(cls, ParamcountError)
        assert cls.subtype == subtype
    err = TargetError("bad", hint="fix it")
    assert str(err) == "bad (fix it)"
    assert str(TargetError("bad")) == "bad"


def test_repeated_keyword() -> None:
    # ast accepts this; Python's compiler would not, and the last value must not win silently
    assert target_error("f(x=1, x=2)").message == "'f(x=1, x=2)': keyword argument 'x' is repeated"


def test_nested_too_deeply_is_a_target_error() -> None:
    err = target_error("f(" + "-" * 5000 + "1)")
    assert err.message.endswith("... is nested too deeply")


def test_null_byte() -> None:
    assert "is not valid syntax at column" in target_error("mod:a\x00").message


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_target_raises_only_target_error(text: str) -> None:
    try:
        spec = parse_target(text)
    except TargetError:
        return
    assert isinstance(spec, (Ref, Call))


target_like = st.text(alphabet="abc.:()[]{},=-+*'\"0123456789 _", max_size=40)


@settings(max_examples=300, deadline=None)
@given(target_like)
def test_target_like_text_raises_only_target_error(text: str) -> None:
    try:
        spec = parse_target(text)
    except TargetError:
        return
    assert isinstance(spec, (Ref, Call))
