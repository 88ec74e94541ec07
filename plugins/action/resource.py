# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshlab.mesh.resource action plugin: renders `template` on the controller with the play's
variables, as ansible.builtin.template does (the template is found in the role's or play's `templates/`),
then runs the module on the managed host with the rendered text as `definition`.

A template that cannot be found or rendered fails the task here, naming it, before the module runs.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

#: The Jinja2 settings a template may set, as ansible.builtin.template's options of the same names.
STRING_SETTINGS = ("variable_start_string", "variable_end_string", "block_start_string", "block_end_string")
BOOLEAN_SETTINGS = ("trim_blocks", "lstrip_blocks")


class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        template = args.get("template")
        if template is not None:
            given = [name for name in ("definition", "src") if args.get(name) is not None]
            if given:
                raise AnsibleActionFail(
                    "template: give one of definition, src and template, not template and "
                    + " and ".join(given)
                )
            specs = [self._template_spec(item, index) for index, item in enumerate(_as_list(template))]
            args["definition"] = "\n---\n".join(self._render(spec, task_vars) for spec in specs)
            args["template"] = [spec["path"] for spec in specs]
        result.update(
            self._execute_module(module_name=self._task.action, module_args=args, task_vars=task_vars)
        )
        return result

    def _template_spec(self, item, index):
        """One template as {path, settings}: a path, or a mapping with `path` and Jinja2 settings."""
        where = f"template[{index}]" if isinstance(self._task.args.get("template"), list) else "template"
        if isinstance(item, str):
            return {"path": item, "settings": {}}
        if not isinstance(item, dict):
            raise AnsibleActionFail(
                f"{where}: is a {type(item).__name__}; give a path, or a mapping with path and Jinja2 "
                "settings"
            )
        if not item.get("path"):
            raise AnsibleActionFail(
                f"{where}: path is required (the template file, found as ansible.builtin.template finds it)"
            )
        unknown = sorted(set(item) - {"path", *STRING_SETTINGS, *BOOLEAN_SETTINGS})
        if unknown:
            raise AnsibleActionFail(
                f"{where}: unknown settings {', '.join(unknown)}; known: path, "
                + ", ".join(STRING_SETTINGS + BOOLEAN_SETTINGS)
            )
        settings = {}
        for name in STRING_SETTINGS:
            if item.get(name) is not None:
                settings[name] = str(item[name])
        for name in BOOLEAN_SETTINGS:
            if item.get(name) is not None:
                try:
                    settings[name] = boolean(item[name], strict=True)
                except TypeError:
                    raise AnsibleActionFail(f"{where}.{name}: {item[name]!r} is not a boolean") from None
        return {"path": str(item["path"]), "settings": settings}

    def _render(self, spec, task_vars):
        """The template's text rendered with the task's variables; AnsibleActionFail naming it otherwise."""
        path = spec["path"]
        try:
            source = self._find_needle("templates", path)
        except AnsibleError as exc:
            raise AnsibleActionFail(
                f"template: {path} was not found on the controller (looked in the templates/ directories "
                f"of the role and the play, and beside them): {to_text(exc)}"
            ) from None
        try:
            data = trust_as_template(self._loader.get_text_file_contents(source))
        except AnsibleError as exc:
            raise AnsibleActionFail(f"template: {source} cannot be read: {to_text(exc)}") from None
        searchpath = list(task_vars.get("ansible_search_path", []))
        searchpath += [self._loader.get_basedir(), os.path.dirname(source)]
        searchpath = [p for base in searchpath for p in (os.path.join(base, "templates"), base)]
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=dict(task_vars))
        try:
            rendered = templar.template(data, escape_backslashes=False, overrides=spec["settings"])
        except AnsibleError as exc:
            raise AnsibleActionFail(f"template: {source} could not be rendered: {to_text(exc)}") from None
        return to_text(rendered if rendered is not None else "")


def _as_list(value):
    return value if isinstance(value, list) else [value]
