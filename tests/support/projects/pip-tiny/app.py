import requests
import six

print(six.__version__, requests.__version__)
