from nncli.cli import entry

entry()
