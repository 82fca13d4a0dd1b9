/* The relay host as a peer. A client may reach through the relay only the relayed transport
 * addresses of other allocations that exist now (relay to self); every other address of the host,
 * on every port, is off limits, whatever service listens there. */
#include "turn/turn_internal.h"
#include "turn/turn_shared.h"

bool self_is_host(struct turn_server *s, const struct xt_addr *peer)
{
    const struct addr_set *host = turn_shared_host_begin(s->shared);
    bool self = peer_policy_is_self(&s->cfg->policy, host, peer);

    turn_shared_host_end(s->shared);
    return self;
}

bool self_relayed_ip(const struct turn_config *c, const struct xt_addr *ip)
{
    int fam = xt_family_index(ip->family);
    const struct xt_addr *bound = relayed_bind_addr(c, fam);
    const struct xt_addr *pub = relayed_public_addr(c, fam);

    return (bound->family && xt_addr_ip_equal(bound, ip)) ||
           (pub->family && xt_addr_ip_equal(pub, ip));
}

bool self_reachable(struct turn_server *s, const struct turn_allocation *a,
                    const struct xt_addr *peer)
{
    int fam = xt_family_index(peer->family);
    const struct turn_relayed *own = &a->relayed[fam];

    if (!self_relayed_ip(s->cfg, peer))
        return false;
    if (own->handle >= 0 && own->addr.port == peer->port)
        return false;
    /* A TCP allocation reaches only TCP allocations' relayed addresses, a UDP one UDP ones. */
    return turn_shared_port_bound(s->shared, a->tcp, fam, peer->port);
}
