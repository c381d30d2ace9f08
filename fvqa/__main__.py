from fvqa.cli import app

app(prog_name="fvqa")
