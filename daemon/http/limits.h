/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The HTTP listeners' built-in limits (the defaults of the api.* settings,
 * docs/configuration.md): a leaf, so that the server's interface and its
 * internals both read them without including each other.
 */
#ifndef HA_HTTP_LIMITS_H
#define HA_HTTP_LIMITS_H

#define HTTP_LISTENERS_MAX   8
#define HTTP_CONNECTIONS_MAX 256 /* per listener (api.connections_max) */
#define HTTP_IDLE_TIMEOUT_S  60 /* idle keep-alive connections */
/* Defaults of api.header_timeout_s, api.connections_per_client. */
#define HTTP_HEADER_TIMEOUT_S 30 /* connect or last request to a full head */
#define HTTP_PER_CLIENT_MAX   32 /* per IP address (TCP), per uid (unix) */

#endif
