"""Local stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test bootstraps pip into each sanity-test virtualenv by running a
get-pip script fetched from ci-files.testing.ansible.com, a host our machines
cannot reach. It tells users to save the script into ~/.ansible/test/cache by
hand; scripts/sanity.sh saves this one instead. Like get-pip, it takes pip's
install arguments: it installs the pip bundled with Python (ensurepip), then
lets that pip install what ansible-test asked for from PyPI.
"""

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}

# ensurepip points PIP_CONFIG_FILE at /dev/null for its own run; the real
# install must see the machine's pip configuration (index, certificates).
environment = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_ONLY_OPTIONS]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *arguments], env=environment))
