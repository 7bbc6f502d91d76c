## man fragment (included by the top-level Makefile.am; paths are relative
## to the top directory).  Pages that only hold a ".so man3/..." line are
## link pages for functions documented on a shared page.

# Full pages.
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

# Link pages (.so).
dist_man3_MANS += \
	man/gp_backend_name.3 \
	man/gp_modify.3 \
	man/gp_remove.3 \
	man/gp_version_number.3 \
	man/gp_wait_collect.3 \
	man/gp_wait_poll.3

dist_man7_MANS += man/guestpoll.7 man/guestpoll-python.7
