module ctx4jbench

go 1.19
