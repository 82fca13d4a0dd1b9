# Delivered vs offered load, one line per relay (gnuplot; bench/report.py passes datafile and
# outfile with -e). The data file has one block per relay: a quoted title line, then
# "offered delivered" lines, blocks separated by two blank lines.
set terminal png size 900,600 font ",11"
set output outfile
set title "Delivered vs offered load: TURN relay, IPv4→IPv4, 100-byte payload, echo"
set xlabel "offered (datagrams/s sent by the client)"
set ylabel "delivered (echoes/s back at the client)"
set logscale xy
set grid
set key top left opaque box
set format x "%.0s%c"
set format y "%.0s%c"
plot for [i=0:2] datafile index i using 1:2 with linespoints lw 2 pt 7 title columnheader(1), \
     x with lines dt 2 lc rgb "gray" title "delivered = offered"
