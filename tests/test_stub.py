"""py/mongoose.pyi describes the module that is built: the same public names on both sides."""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stub_names():
    tree = ast.parse(open(os.path.join(ROOT, "py", "mongoose.pyi")).read())
    module = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    client = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "MQTTclient")
    methods = {n.name for n in client.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}  # properties too
    return module, methods


def test_the_stub_names_exactly_what_the_module_and_mqttclient_have(run_script):
    rc, out = run_script("""
import mongoose
print("MODULE", sorted(n for n in dir(mongoose) if not n.startswith("_")))
print("CLIENT", sorted(n for n in dir(mongoose.MQTTclient()) if not n.startswith("_")))
""")
    assert rc == 0, out
    lines = dict(line.split(" ", 1) for line in out.splitlines() if line.startswith(("MODULE", "CLIENT")))
    module, methods = stub_names()
    assert set(ast.literal_eval(lines["MODULE"])) == module
    assert set(ast.literal_eval(lines["CLIENT"])) == methods
