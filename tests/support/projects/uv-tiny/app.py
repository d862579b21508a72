import attrs
import yaml

print(attrs.__version__, yaml.__version__)
