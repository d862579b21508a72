import attrs
import requests

print(attrs.__version__, requests.__version__)
