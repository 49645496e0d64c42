/* mxrelay: placeholder entry point until the daemon lands. */
#include <stdio.h>
#include "config.h"
int main(int argc, char **argv)
{
    printf("mxrelay %s\n", PACKAGE_VERSION);
    return 0;
}
