/*
 * SQLite's own page cache (pcache1), wrapped so that a commit does not walk all of it.
 *
 * At every commit SQLite truncates the page cache to the file's size. pcache1 visits only the
 * hash slots between the file's size and its largest key, unless that distance exceeds the
 * hash table: then it walks every slot, one per cached page. SQLite's b-tree balancer, when it
 * puts new sibling pages in ascending order, moves a page through a temporary number, the
 * page after the lock-byte page (page 1,048,577 for 1 KiB pages). pcache1 remembers that key as
 * its largest, so a commit after any such balance walks the whole cache: with a 32 MiB cache,
 * about 30,000 slots per commit, however small the transaction (docs/benchmarks.md).
 *
 * The wrapper gives that temporary number key 0 instead, which no database page has and which
 * never raises pcache1's largest key. The page leaves it within the same balance step. Every
 * other call goes to pcache1 unchanged.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "log.h"
#include "store_sqlite.h"

/* SQLite's PENDING_BYTE (its default; only test builds of SQLite can move it). */
#define PCACHE_PENDING_BYTE 0x40000000u

struct pcache_wrap {
	sqlite3_pcache *inner;
	unsigned temp_key; /* the balancer's temporary page number for this page size */
};

static sqlite3_pcache_methods2 pcache_inner;
static atomic_ulong pcache_remapped;
static pthread_once_t pcache_once = PTHREAD_ONCE_INIT;
static int pcache_installed;

static unsigned
pcache_key(const struct pcache_wrap *w, unsigned key)
{
	if (key == w->temp_key)
		return 0;
	return key == 0 ? w->temp_key : key;
}

static sqlite3_pcache *
pcache_create(int page_size, int extra, int purgeable)
{
	struct pcache_wrap *w = malloc(sizeof(*w));

	if (w == NULL)
		return NULL;
	if ((w->inner = pcache_inner.xCreate(page_size, extra, purgeable)) == NULL) {
		free(w);
		return NULL;
	}
	w->temp_key = page_size > 0 ? PCACHE_PENDING_BYTE / (unsigned)page_size + 1 : 0;
	return (sqlite3_pcache *)w;
}

static void
pcache_cachesize(sqlite3_pcache *p, int n)
{
	pcache_inner.xCachesize(((struct pcache_wrap *)p)->inner, n);
}

static int
pcache_pagecount(sqlite3_pcache *p)
{
	return pcache_inner.xPagecount(((struct pcache_wrap *)p)->inner);
}

static sqlite3_pcache_page *
pcache_fetch(sqlite3_pcache *p, unsigned key, int create)
{
	struct pcache_wrap *w = (struct pcache_wrap *)p;
	return pcache_inner.xFetch(w->inner, pcache_key(w, key), create);
}

static void
pcache_unpin(sqlite3_pcache *p, sqlite3_pcache_page *page, int discard)
{
	pcache_inner.xUnpin(((struct pcache_wrap *)p)->inner, page, discard);
}

static void
pcache_rekey(sqlite3_pcache *p, sqlite3_pcache_page *page, unsigned old_key, unsigned new_key)
{
	struct pcache_wrap *w = (struct pcache_wrap *)p;

	if (new_key == w->temp_key)
		atomic_fetch_add_explicit(&pcache_remapped, 1, memory_order_relaxed);
	pcache_inner.xRekey(w->inner, page, pcache_key(w, old_key), pcache_key(w, new_key));
}

static void
pcache_truncate(sqlite3_pcache *p, unsigned limit)
{
	pcache_inner.xTruncate(((struct pcache_wrap *)p)->inner, limit);
}

static void
pcache_destroy(sqlite3_pcache *p)
{
	struct pcache_wrap *w = (struct pcache_wrap *)p;
	pcache_inner.xDestroy(w->inner);
	free(w);
}

static void
pcache_shrink(sqlite3_pcache *p)
{
	pcache_inner.xShrink(((struct pcache_wrap *)p)->inner);
}

/*
 * SQLite takes a page cache only before it is initialised, so this runs once, before the
 * first connection opens. If SQLite was initialised already, the process keeps pcache1 as it
 * is: slower commits, the same results.
 */
static void
pcache_install_once(void)
{
	sqlite3_pcache_methods2 wrap;

	if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &pcache_inner) != SQLITE_OK ||
	    pcache_inner.iVersion < 1 || pcache_inner.xCreate == NULL) {
		log_debug("store: SQLite is initialised already; its page cache stays unwrapped");
		return;
	}
	wrap = (sqlite3_pcache_methods2){
	    .iVersion = 1,
	    .pArg = pcache_inner.pArg,
	    .xInit = pcache_inner.xInit,
	    .xShutdown = pcache_inner.xShutdown,
	    .xCreate = pcache_create,
	    .xCachesize = pcache_cachesize,
	    .xPagecount = pcache_pagecount,
	    .xFetch = pcache_fetch,
	    .xUnpin = pcache_unpin,
	    .xRekey = pcache_rekey,
	    .xTruncate = pcache_truncate,
	    .xDestroy = pcache_destroy,
	    .xShrink = pcache_shrink,
	};
	if (sqlite3_config(SQLITE_CONFIG_PCACHE2, &wrap) != SQLITE_OK) {
		log_debug("store: SQLite refused the page cache wrapper");
		return;
	}
	pcache_installed = 1;
}

/* Before the first sqlite3_open of the process. */
int
store_sqlite_pcache_install(void)
{
	pthread_once(&pcache_once, pcache_install_once);
	return pcache_installed;
}

/* How many times the balancer's temporary page number was given key 0; for the tests. */
unsigned long
store_sqlite_pcache_remapped(void)
{
	return atomic_load_explicit(&pcache_remapped, memory_order_relaxed);
}
