"""A recording stand-in for ``bpy.types.UILayout`` (Panel.draw never runs in the bpy module).

Every call is checked as it is made: the layout function must exist in UILayout with those keyword arguments;
``prop()`` must name an existing RNA property of its data; ``operator()`` must name a registered operator, and
whatever the panel assigns to the returned properties must be one of that operator's properties.
"""

from __future__ import annotations

import bpy

_FUNCS = bpy.types.UILayout.bl_rna.functions
_ATTRS = set(bpy.types.UILayout.bl_rna.properties.keys())
_SUB_LAYOUTS = {"row", "column", "box", "split", "column_flow", "grid_flow"}


class OperatorProps:
    def __init__(self, recorder: Recorder, idname: str):
        object.__setattr__(self, "_idname", idname)
        object.__setattr__(self, "_recorder", recorder)
        category, name = idname.split(".")
        rna = getattr(getattr(bpy.ops, category), name).get_rna_type()
        object.__setattr__(self, "_props", rna.properties)
        object.__setattr__(self, "values", {})

    def __setattr__(self, key, value):
        assert key in self._props, f"{self._idname} has no property {key!r}"
        prop = self._props[key]
        if prop.type == 'ENUM' and not prop.is_enum_flag and prop.enum_items:
            assert value in prop.enum_items.keys(), f"{self._idname}.{key}: {value!r} not an item"
        self.values[key] = value

    def __getattr__(self, key):
        raise AttributeError(key)


class Recorder:
    """Records layout calls; nested layouts share one call log."""

    def __init__(self, log: list | None = None):
        object.__setattr__(self, "calls", [] if log is None else log)

    # --- attributes (enabled, alert, scale_y, operator_context, use_property_split, ...) -------------------
    def __setattr__(self, key, value):
        assert key in _ATTRS, f"UILayout has no attribute {key!r}"
        self.calls.append(("set", key, value))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        assert name in _FUNCS, f"UILayout has no function {name!r}"
        params = set(_FUNCS[name].parameters.keys())

        def call(*args, **kwargs):
            for k in kwargs:
                assert k in params, f"UILayout.{name}() has no argument {k!r}"
            return self._record(name, args, kwargs)

        return call

    def _record(self, name, args, kwargs):
        self.calls.append((name, args, kwargs))
        if name in _SUB_LAYOUTS:
            return Recorder(self.calls)
        if name == "panel":  # (header, body); the body is drawn (an open panel)
            return Recorder(self.calls), Recorder(self.calls)
        if name in ("prop", "prop_enum", "prop_search", "props_enum"):
            data, prop = args[0], args[1]
            assert prop in data.bl_rna.properties, f"{type(data).__name__} has no property {prop!r}"
            if name == "prop_enum":
                assert args[2] in data.bl_rna.properties[prop].enum_items.keys()
        elif name in ("operator", "operator_menu_enum"):
            idname = args[0]
            category, op = idname.split(".")
            assert op in dir(getattr(bpy.ops, category)), f"no operator {idname}"
            props = OperatorProps(self, idname)
            self.calls.append(("op_props", idname, props))
            return props
        elif name == "menu":
            assert hasattr(bpy.types, args[0]), f"no menu {args[0]}"
        elif name == "template_list":
            list_type, _list_id, data, prop, active_data, active_prop = args[:6]
            assert hasattr(bpy.types, list_type), f"no UIList {list_type}"
            assert prop in data.bl_rna.properties and active_prop in active_data.bl_rna.properties
        return None

    # --- queries for assertions --------------------------------------------------------------------------------
    def ops(self) -> list[str]:
        return [c[1][0] for c in self.calls if c[0] == "operator"]

    def op_values(self, idname: str) -> list[dict]:
        return [c[2].values for c in self.calls if c[0] == "op_props" and c[1] == idname]

    def props(self) -> list[str]:
        return [c[1][1] for c in self.calls if c[0] == "prop"]

    def labels(self) -> list[str]:
        return [c[2].get("text", c[1][0] if c[1] else "") for c in self.calls if c[0] == "label"]

    def text(self) -> str:
        return "\n".join(self.labels())


def draw(cls, context=None, **extra):
    """Run ``cls.draw`` against a Recorder; returns it."""
    from types import SimpleNamespace

    rec = Recorder()
    self = SimpleNamespace(layout=rec, **extra)
    cls.draw(self, context or bpy.context)
    return rec


def draw_operator(op_cls, context=None, **values):
    """Run an operator's dialog ``draw`` on a stand-in instance holding the operator's default values (and
    ``values``, as if the user had set them)."""
    category, name = op_cls.bl_idname.split(".")
    rna = getattr(getattr(bpy.ops, category), name).get_rna_type()  # the operator's own properties
    mixin = next(c for c in op_cls.__mro__[1:] if not issubclass(c, bpy.types.bpy_struct))
    fake = type("FakeOperator", (mixin,), {"bindings": op_cls.bindings, "task_type": op_cls.task_type})()
    fake.layout = Recorder()
    fake.bl_rna = rna
    fake.properties = type("Props", (), {"is_property_set": staticmethod(lambda name: name in values)})()
    for prop in rna.properties:
        if prop.identifier == "rna_type":
            continue
        if prop.type == 'COLLECTION':
            value = []
        elif prop.type == 'ENUM':
            # (an enum whose items follow the API has no static default: its item 0 is "Auto")
            value = set(prop.default_flag) if prop.is_enum_flag else (prop.default or "AUTO")
        elif getattr(prop, "is_array", False):
            value = list(prop.default_array)
        else:
            value = prop.default
        setattr(fake, prop.identifier, value)
    for key, value in values.items():
        setattr(fake, key, value)
    fake.draw(context or bpy.context)
    return fake.layout
