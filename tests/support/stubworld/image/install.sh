#!/bin/sh
# Turns the test rootfs into the stub world (run once, in the stub image's build).
set -eu
S=/.stubworld
# The real interpreter stays for the stub tools only; every name a user calls is a stub.
cp /usr/bin/python3.11 $S/python
# Smaller is faster: the oracle exports and hashes every image it compares. Real apt,
# perl and the stdlib parts no stub tool imports go; the ldd check below proves nothing
# left lost a library.
P=/usr/lib/python3.11
L=/usr/lib/x86_64-linux-gnu
rm -rf /usr/lib/python3/dist-packages/* /usr/share/python-wheels /usr/share/* \
       $P/test $P/idlelib $P/tkinter $P/turtledemo $P/ensurepip $P/lib2to3 $P/pydoc_data \
       $P/distutils $P/config-3.11-x86_64-linux-gnu $P/unittest $P/asyncio $P/sqlite3 \
       $P/xmlrpc $P/wsgiref $P/curses $P/dbm $P/lib-dynload/_sqlite3* $P/lib-dynload/_curses* \
       $P/lib-dynload/_dbm* $P/lib-dynload/_gdbm* $P/lib-dynload/_test* \
       $P/lib-dynload/_ctypes_test* $P/lib-dynload/xxlimited* \
       /usr/lib/apt /usr/bin/apt-* /usr/bin/perl* $L/perl* $L/gconv $L/libapt* $L/libgnutls* \
       $L/libunistring* $L/libp11-kit* $L/libidn2* $L/libnettle* $L/libhogweed* $L/libtasn1* \
       $L/libstdc++* $L/libsqlite3* $L/libdb-5.3* /var/lib/dpkg/info/*.md5sums
TOOLS="pip pip3 pip3.11 python python3 python3.11 poetry uv pipenv conda mamba micromamba
apt-get apt apk dnf yum microdnf hf huggingface-cli curl wget git adduser addgroup sudo"
for dir in /usr/local/bin /opt/conda/bin /root/.local/bin /root/.cargo/bin /opt/poetry/bin \
           /usr/local/cargo/bin; do
    mkdir -p "$dir"
done
for tool in $TOOLS; do
    ln -sf $S/bin/shim /usr/local/bin/$tool
    ln -sf $S/bin/shim /usr/bin/$tool
done
for tool in conda mamba pip pip3 python python3; do ln -sf $S/bin/shim /opt/conda/bin/$tool; done
for tool in poetry uv pipenv; do ln -sf $S/bin/shim /root/.local/bin/$tool; done
ln -sf $S/bin/shim /root/.cargo/bin/uv
ln -sf $S/bin/shim /usr/local/cargo/bin/uv
ln -sf $S/bin/shim /opt/poetry/bin/poetry
# `COPY --from=ghcr.io/astral-sh/uv /uv /uvx /bin/` copies these from the stub too.
ln -sf $S/bin/shim /uv
ln -sf $S/bin/shim /uvx
mkdir -p /opt/conda/etc/profile.d /opt/conda/envs
: > /opt/conda/etc/profile.d/conda.sh
: > /opt/conda/etc/profile.d/mamba.sh
: > $S/reads.log
chmod 666 $S/reads.log
find $S -name __pycache__ -prune -exec rm -rf {} +
$S/python -I -m compileall -q $S/lib >/dev/null
chmod -R a+rX $S
for elf in /usr/bin/* /usr/sbin/* $S/python $P/lib-dynload/*.so; do
    [ -L "$elf" ] && continue
    if ldd "$elf" 2>/dev/null | grep -q "not found"; then
        echo "stubworld: $elf lost a library:" >&2; ldd "$elf" >&2; exit 1
    fi
done
# Last: from here on every RUN goes through the wrapper.
ln -sf $S/sh /bin/sh
