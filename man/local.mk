## man fragment (included by the top-level Makefile.am; paths are relative
## to the top directory).  Every file in man/ is a full page, so that
## `man -l man/PAGE` renders each of them from the source tree (./dev docs
## checks that).  Functions documented on another function's page get their
## own name only when installed: make install writes a one-line ".so" link
## page for each, the form distributions ship, which man resolves inside the
## installed hierarchy (it cannot from the source tree: a .so path is
## relative to the man directory, man3/...).

dist_man3_MANS += \
	man/gp_add.3 \
	man/gp_backend_available.3 \
	man/gp_notify.3 \
	man/gp_options_init.3 \
	man/gp_poller_backend.3 \
	man/gp_poller_fd.3 \
	man/gp_poller_free.3 \
	man/gp_poller_new.3 \
	man/gp_strerror.3 \
	man/gp_version.3 \
	man/gp_wait.3 \
	man/gp_wait_cancel.3 \
	man/gp_wait_start.3 \
	man/gp_wait_state.3

dist_man7_MANS += man/guestpoll.7 man/guestpoll-python.7

# LINK:PAGE -- the function LINK is documented on man3/PAGE.3.
GP_MAN_LINKS = \
	gp_backend_name:gp_backend_available \
	gp_modify:gp_add \
	gp_remove:gp_add \
	gp_version_number:gp_version \
	gp_wait_collect:gp_wait_start \
	gp_wait_poll:gp_wait_start

install-data-local: install-man-links
install-man-links:
	$(MKDIR_P) '$(DESTDIR)$(man3dir)'
	@for l in $(GP_MAN_LINKS); do \
	  echo " .so man3/$${l#*:}.3 > $(DESTDIR)$(man3dir)/$${l%%:*}.3"; \
	  echo ".so man3/$${l#*:}.3" >'$(DESTDIR)$(man3dir)'/$${l%%:*}.3 || exit 1; \
	done

uninstall-local: uninstall-man-links
uninstall-man-links:
	@for l in $(GP_MAN_LINKS); do \
	  rm -f '$(DESTDIR)$(man3dir)'/$${l%%:*}.3; \
	done

.PHONY: install-man-links uninstall-man-links
