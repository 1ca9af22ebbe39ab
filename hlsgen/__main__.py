from hlsgen.cli import entry

entry()
