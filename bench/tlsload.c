/*
 * tlsload: keepalive HTTP/1.1 load over TLS with a client certificate.
 *
 * wrk, h2load and httperf cannot present a client certificate, so the
 * frontend benchmark brings this small client. Each of CONNS forked
 * processes opens one connection (TLS with the given client certificate, or
 * plain TCP with "-" as certificate) and sends GET PATH back to back for
 * SECONDS, reading each response fully (Content-Length). Non-2xx answers are
 * counted apart, so a refusal never looks like throughput.
 *
 * usage: tlsload HOST PORT PATH SECONDS CONNS CERT KEY
 * prints: requests=N non2xx=N errors=N rps=R p50_us=U p99_us=U
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 2000000

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

typedef struct { SSL *ssl; int fd; } conn_t;

static int conn_write(conn_t *c, const char *buf, int len) {
    return c->ssl ? SSL_write(c->ssl, buf, len) : (int)write(c->fd, buf, len);
}

static int conn_read(conn_t *c, char *buf, int len) {
    return c->ssl ? SSL_read(c->ssl, buf, len) : (int)read(c->fd, buf, len);
}

/* Read one response; return its status code, or -1 on a broken connection. */
static int read_response(conn_t *c, char *buf, int size) {
    int have = 0;
    char *end = NULL;
    while (!end) {
        int n = conn_read(c, buf + have, size - have - 1);
        if (n <= 0) return -1;
        have += n;
        buf[have] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    int status = atoi(buf + 9);
    char *cl = strcasestr(buf, "content-length:");
    int body = cl ? atoi(cl + 15) : 0;
    int got = have - (int)(end + 4 - buf);
    while (got < body) {
        int n = conn_read(c, buf, size);
        if (n <= 0) return -1;
        got += n;
    }
    return status;
}

static void worker(const char *host, int port, const char *path, double seconds, const char *cert,
                   const char *key, int out) {
    static float lat[MAX_SAMPLES];
    long n = 0, non2xx = 0, errors = 0;
    conn_t c = {NULL, -1};
    SSL_CTX *ctx = NULL;
    if (strcmp(cert, "-") != 0) {
        ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM);
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM);
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &addr.sin_addr);
    char request[512], buf[65536];
    int rlen = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host);
    double stop = now_us() + seconds * 1e6;
    while (now_us() < stop) {
        if (c.fd < 0) {
            c.fd = socket(AF_INET, SOCK_STREAM, 0);
            int one = 1;
            setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (connect(c.fd, (struct sockaddr *)&addr, sizeof addr) != 0) { errors++; close(c.fd); c.fd = -1; continue; }
            if (ctx) {
                c.ssl = SSL_new(ctx);
                SSL_set_fd(c.ssl, c.fd);
                if (SSL_connect(c.ssl) != 1) { errors++; SSL_free(c.ssl); c.ssl = NULL; close(c.fd); c.fd = -1; continue; }
            }
        }
        double t0 = now_us();
        int status = conn_write(&c, request, rlen) == rlen ? read_response(&c, buf, sizeof buf) : -1;
        if (status < 0) {
            errors++;
            if (c.ssl) SSL_free(c.ssl);
            c.ssl = NULL; close(c.fd); c.fd = -1;
            continue;
        }
        if (status < 200 || status > 299) non2xx++;
        if (n < MAX_SAMPLES) lat[n] = (float)(now_us() - t0);
        n++;
    }
    long kept = n < MAX_SAMPLES ? n : MAX_SAMPLES;
    if (write(out, &n, sizeof n) < 0 || write(out, &non2xx, sizeof non2xx) < 0 ||
        write(out, &errors, sizeof errors) < 0 || write(out, &kept, sizeof kept) < 0 ||
        write(out, lat, kept * sizeof(float)) < 0) exit(1);
    exit(0);
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: tlsload HOST PORT PATH SECONDS CONNS CERT KEY\n");
        return 2;
    }
    double seconds = atof(argv[4]);
    int conns = atoi(argv[5]);
    int pipes[64][2];
    for (int i = 0; i < conns && i < 64; i++) {
        if (pipe(pipes[i]) != 0) return 1;
        if (fork() == 0) worker(argv[1], atoi(argv[2]), argv[3], seconds, argv[6], argv[7], pipes[i][1]);
        close(pipes[i][1]);
    }
    static float all[MAX_SAMPLES * 4];
    long total = 0, non2xx = 0, errors = 0, samples = 0;
    for (int i = 0; i < conns && i < 64; i++) {
        long n, b, e, kept;
        FILE *f = fdopen(pipes[i][0], "rb");
        if (fread(&n, sizeof n, 1, f) != 1 || fread(&b, sizeof b, 1, f) != 1 ||
            fread(&e, sizeof e, 1, f) != 1 || fread(&kept, sizeof kept, 1, f) != 1) return 1;
        if (samples + kept > MAX_SAMPLES * 4) kept = MAX_SAMPLES * 4 - samples;
        if (fread(all + samples, sizeof(float), kept, f) != (size_t)kept) return 1;
        samples += kept; total += n; non2xx += b; errors += e;
        fclose(f);
    }
    while (wait(NULL) > 0) {}
    qsort(all, samples, sizeof(float), cmp);
    printf("requests=%ld non2xx=%ld errors=%ld rps=%.0f p50_us=%.0f p99_us=%.0f\n", total, non2xx, errors,
           total / seconds, samples ? all[samples / 2] : 0.0, samples ? all[samples * 99 / 100] : 0.0);
    return 0;
}
