"""`veriframe`: the operator's command line.

Each sub-command lives in its own module and imports its heavy dependencies (torch, diffusers,
the database) inside the command, so `veriframe --help` and the light client commands start fast.
"""

import typer

from veriframe.service.cli import db, demo, generate, job, keys, model, moderate, provenance, serve

app = typer.Typer(
    name="veriframe",
    help="Veriframe: responsible-use text-to-video (screen, generate, watermark, sign, audit).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(model.app, name="model")
app.add_typer(keys.app, name="keys")
app.add_typer(provenance.app, name="provenance")
app.add_typer(db.app, name="db")
app.add_typer(job.app, name="job")
app.command("generate")(generate.generate)
app.command("moderate")(moderate.moderate)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
