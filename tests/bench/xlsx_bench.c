/*
 * How long libxlsxwriter takes to write an indicators-sized workbook, which
 * daemon/api_reports.c does on the event loop (libxlsxwriter 1.1.4 writes
 * files only). Rows of 22 cells (one text, the rest numbers), each workbook
 * in its own mkdtemp directory, deleted after, as the daemon does.
 *
 *   cc -O2 tests/bench/xlsx_bench.c -o /tmp/xlsx_bench -lxlsxwriter && /tmp/xlsx_bench 17 200 1000
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <xlsxwriter.h>

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	for (int a = 1; a < argc; a++) {
		int rows = atoi(argv[a]), reps = 20;
		double t0 = now_ms();
		for (int r = 0; r < reps; r++) {
			char dir[] = "/tmp/xlsx-bench-XXXXXX", path[64];
			if (!mkdtemp(dir))
				return 1;
			snprintf(path, sizeof path, "%s/b.xlsx", dir);
			lxw_workbook_options o = {.constant_memory = LXW_FALSE, .tmpdir = dir};
			lxw_workbook *wb = workbook_new_opt(path, &o);
			lxw_worksheet *ws = workbook_add_worksheet(wb, "indicateurs");
			for (int i = 0; i < rows; i++)
				for (int c = 0; c < 22; c++) {
					if (c == 1)
						worksheet_write_string(ws, i, c, "Habitat Jeunes de Sète", NULL);
					else
						worksheet_write_number(ws, i, c, i * 1.5 + c, NULL);
				}
			workbook_close(wb);
			unlink(path);
			rmdir(dir);
		}
		printf("%d rows: %.1f ms per workbook\n", rows, (now_ms() - t0) / reps);
	}
	return 0;
}
