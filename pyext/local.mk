## The CPython extension and the guestpoll package (built when configure
## found a Python >= 3.10 with headers; PYTHON=... selects it).
EXTRA_DIST += pyext/guestpoll/__init__.pyi pyext/guestpoll/py.typed \
	examples/python/queue_host.py examples/python/trio_host.py \
	examples/python/tk_host.py examples/python/qt_host.py \
	examples/python/glib_host.py examples/python/download_helper.py \
	tests/py/run-pytest.sh pyext/mksite.sh \
	tests/peers/run-aioguest-suite.sh tests/peers/aioguest_divergences.py \
	tests/peers/aioguest/__init__.py tests/peers/run-cpython-asyncio.sh \
	tests/peers/cpython/sitecustomize.py

# Every pytest module ships, whatever its name.
dist-hook: dist-pytests
dist-pytests:
	$(MKDIR_P) $(distdir)/tests/py
	cp -p $(srcdir)/tests/py/*.py $(distdir)/tests/py/
.PHONY: dist-pytests

# make distcheck must not install into the real site-packages.
AM_DISTCHECK_CONFIGURE_FLAGS = --with-python-sitedir=$$dc_install_base/python

# run-pytest.sh lays the package out in pyext/site (mksite.sh); Python may
# write __pycache__ there, so clean removes the whole tree.
clean-local: clean-pyext-site
clean-pyext-site:
	rm -rf pyext/site
.PHONY: clean-pyext-site

if HAVE_PYTHON
pkgpyexec_LTLIBRARIES = pyext/_guestpoll.la
# module.c: module state and errors; selector.c: the selectors selector;
# bridge.c: the split-wait bridge of guest mode (see pyext/module.h).
pyext__guestpoll_la_SOURCES = pyext/module.c pyext/module.h \
	pyext/selector.c pyext/selector.h pyext/bridge.c pyext/bridge.h
pyext__guestpoll_la_CPPFLAGS = $(AM_CPPFLAGS) $(PYTHON_CPPFLAGS)
# Python's headers trip -Wstrict-prototypes/-Wmissing-prototypes in places;
# the module init function must be exported despite -fvisibility=hidden.
pyext__guestpoll_la_CFLAGS = $(AM_CFLAGS)
pyext__guestpoll_la_LDFLAGS = -module -avoid-version -shared -rpath $(pkgpyexecdir)
pyext__guestpoll_la_LIBADD = libguestpoll_core.la

pkgpython_PYTHON = pyext/guestpoll/__init__.py pyext/guestpoll/_guest.py \
	pyext/guestpoll/_abandon.py pyext/guestpoll/_hostwatch.py pyext/guestpoll/_runner.py \
	pyext/guestpoll/_trio.py \
	pyext/guestpoll/_watchdog.py pyext/guestpoll/hosts.py pyext/guestpoll/qt.py \
	pyext/guestpoll/tk.py pyext/guestpoll/glib.py pyext/guestpoll/trio.py
dist_pkgpython_DATA = pyext/guestpoll/__init__.pyi pyext/guestpoll/py.typed \
	pyext/guestpoll/hosts.pyi pyext/guestpoll/qt.pyi pyext/guestpoll/tk.pyi \
	pyext/guestpoll/glib.pyi pyext/guestpoll/trio.pyi

# libtool's .la file means nothing to Python; without it, libtool cannot
# uninstall the module either, so uninstall-hook does.
install-exec-hook:
	rm -f $(DESTDIR)$(pkgpyexecdir)/_guestpoll.la
uninstall-hook:
	rm -f $(DESTDIR)$(pkgpyexecdir)/_guestpoll.so
	-rmdir $(DESTDIR)$(pkgpyexecdir)/__pycache__ $(DESTDIR)$(pkgpyexecdir) 2>/dev/null

TESTS += tests/py/run-pytest.sh
AM_TESTS_ENVIRONMENT = \
	PYTHON='$(PYTHON)'; export PYTHON; \
	GP_SRCDIR='$(abs_top_srcdir)'; export GP_SRCDIR; \
	GP_BUILDDIR='$(abs_top_builddir)'; export GP_BUILDDIR;
endif
